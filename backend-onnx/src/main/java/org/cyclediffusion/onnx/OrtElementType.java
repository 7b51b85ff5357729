package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxJavaType;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import org.cyclediffusion.core.spi.DType;

/** ONNX element types as the error messages spell them, and the float types we convert at the boundary. */
final class OrtElementType {
    /** Float types a network may declare: we convert host float32 to and from them at the boundary. */
    static final Set<OnnxJavaType> FLOATS = EnumSet.of(OnnxJavaType.FLOAT, OnnxJavaType.FLOAT16, OnnxJavaType.BFLOAT16);

    private OrtElementType() {
    }

    /** {@code float32}, {@code float16}, {@code int64}, ... (ONNX's names, not Java's). */
    static String name(OnnxJavaType t) {
        return switch (t) {
            case FLOAT -> "float32";
            case DOUBLE -> "float64";
            case FLOAT16 -> "float16";
            case BFLOAT16 -> "bfloat16";
            default -> t.name().toLowerCase(Locale.ROOT);
        };
    }

    /** The precision a float element type computes in. */
    static DType dtype(OnnxJavaType t) {
        return switch (t) {
            case FLOAT -> DType.FLOAT32;
            case FLOAT16 -> DType.FLOAT16;
            case BFLOAT16 -> DType.BFLOAT16;
            default -> throw new IllegalArgumentException("not a float element type: " + name(t));
        };
    }
}
