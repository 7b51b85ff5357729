package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import org.cyclediffusion.core.io.HalfFloats;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The host ↔ ONNX Runtime boundary keeps every bit: float32 tensors come back as they went in,
 * float16 and bfloat16 ones as torch's casts round them ({@link HalfFloats}), special values included.
 */
class OrtTensorsTest {
    @ParameterizedTest
    @EnumSource(value = OnnxJavaType.class, names = {"FLOAT", "FLOAT16", "BFLOAT16"})
    void aTensorComesBackBitForBitAsItsElementTypeRoundsIt(OnnxJavaType type) {
        float[] data = new TorchGenerator(7).randn(2, 4, 8, 8).data();
        float[] specials = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, 1e-6f, -3e-5f,
            65504f, 70000f, -1e30f, Float.MAX_VALUE, 0.1f, 1f / 3};
        System.arraycopy(specials, 0, data, 0, specials.length);
        FloatTensor host = new FloatTensor(data, 2, 4, 8, 8);
        FloatTensor back;
        try (OnnxTensor t = OrtTensors.floats(host, type)) {
            assertEquals(type, t.getInfo().type);
            back = OrtTensors.toHost(t);
        }
        assertArrayEquals(host.shape(), back.shape());
        float[] expected = new float[data.length];
        for (int i = 0; i < data.length; i++) {
            expected[i] = switch (type) {
                case FLOAT -> data[i];
                case FLOAT16 -> HalfFloats.halfToFloat(HalfFloats.floatToHalf(data[i]));
                case BFLOAT16 -> HalfFloats.bfloat16ToFloat(HalfFloats.floatToBfloat16(data[i]));
                default -> throw new AssertionError(type);
            };
        }
        for (int i = 0; i < data.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(back.data()[i]),
                    "element " + i + " (" + data[i] + "): expected " + expected[i] + ", found " + back.data()[i]);
        }
    }
}
