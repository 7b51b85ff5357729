package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.io.HalfFloats;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Host tensors to ONNX Runtime tensors and back. Inputs are written into direct buffers, which ONNX
 * Runtime reads in place (no second copy); float16/bfloat16 networks are converted at this boundary,
 * so everything outside the backend stays float32.
 */
final class OrtTensors {
    private OrtTensors() {
    }

    static ByteBuffer direct(long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new CycleDiffusionException("a tensor of " + bytes + " bytes does not fit one direct buffer");
        }
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
    }

    static long[] longShape(int[] shape) {
        return Arrays.stream(shape).asLongStream().toArray();
    }

    /** A tensor of element type {@code type} (float32, float16 or bfloat16) holding {@code t} with shape {@code shape}. */
    static OnnxTensor floats(FloatTensor t, OnnxJavaType type, long[] shape) {
        float[] data = t.data();
        try {
            switch (type) {
                case FLOAT -> {
                    FloatBuffer fb = direct(4L * data.length).asFloatBuffer();
                    fb.put(data).rewind();
                    return OnnxTensor.createTensor(OrtRuntime.environment(), fb, shape);
                }
                case FLOAT16, BFLOAT16 -> {
                    ShortBuffer sb = direct(2L * data.length).asShortBuffer();
                    boolean half = type == OnnxJavaType.FLOAT16;
                    for (float v : data) {
                        sb.put(half ? HalfFloats.floatToHalf(v) : HalfFloats.floatToBfloat16(v));
                    }
                    sb.rewind();
                    return OnnxTensor.createTensor(OrtRuntime.environment(), sb, shape, type);
                }
                default -> throw new IllegalArgumentException("not a float element type: " + OrtElementType.name(type));
            }
        } catch (OrtException e) {
            throw new CycleDiffusionException("cannot create an ONNX Runtime tensor " + Arrays.toString(shape) + ": " + e.getMessage(), e);
        }
    }

    static OnnxTensor floats(FloatTensor t, OnnxJavaType type) {
        return floats(t, type, longShape(t.shape()));
    }

    /** A tensor of {@code count} copies of {@code value} (a timestep), as float or integer {@code type}. */
    static OnnxTensor filled(double value, OnnxJavaType type, long[] shape) {
        int n = Math.toIntExact(Arrays.stream(shape).reduce(1, (a, b) -> a * b));
        try {
            switch (type) {
                case INT64 -> {
                    LongBuffer lb = direct(8L * n).asLongBuffer();
                    for (int i = 0; i < n; i++) {
                        lb.put((long) value);
                    }
                    return OnnxTensor.createTensor(OrtRuntime.environment(), lb.rewind(), shape);
                }
                case INT32 -> {
                    IntBuffer ib = direct(4L * n).asIntBuffer();
                    for (int i = 0; i < n; i++) {
                        ib.put((int) value);
                    }
                    return OnnxTensor.createTensor(OrtRuntime.environment(), ib.rewind(), shape);
                }
                default -> {
                    float[] data = new float[n];
                    Arrays.fill(data, (float) value);
                    return floats(new FloatTensor(data, n), type, shape);
                }
            }
        } catch (OrtException e) {
            throw new CycleDiffusionException("cannot create an ONNX Runtime tensor " + Arrays.toString(shape) + ": " + e.getMessage(), e);
        }
    }

    /** Token ids [B][S] as int64 or int32 (the diffusers export script declares int32). */
    static OnnxTensor ids(long[][] ids, OnnxJavaType type) {
        int b = ids.length;
        int s = ids[0].length;
        long[] shape = {b, s};
        try {
            if (type == OnnxJavaType.INT64) {
                LongBuffer lb = direct(8L * b * s).asLongBuffer();
                for (long[] row : ids) {
                    lb.put(row);
                }
                return OnnxTensor.createTensor(OrtRuntime.environment(), lb.rewind(), shape);
            }
            IntBuffer ib = direct(4L * b * s).asIntBuffer();
            for (long[] row : ids) {
                for (long id : row) {
                    ib.put(Math.toIntExact(id));
                }
            }
            return OnnxTensor.createTensor(OrtRuntime.environment(), ib.rewind(), shape);
        } catch (OrtException e) {
            throw new CycleDiffusionException("cannot create the input_ids tensor: " + e.getMessage(), e);
        }
    }

    /** The named output of a result as a host float32 tensor. */
    static FloatTensor toHost(OrtSession.Result result, String name) {
        OnnxValue v = result.get(name).orElseThrow(() -> new CycleDiffusionException("ONNX Runtime returned no output '" + name + "'"));
        if (!(v instanceof OnnxTensor t)) {
            throw new CycleDiffusionException("output '" + name + "' is not a tensor: " + v.getInfo());
        }
        return toHost(t);
    }

    static FloatTensor toHost(OnnxTensor t) {
        TensorInfo info = t.getInfo();
        int[] shape = Arrays.stream(info.getShape()).mapToInt(Math::toIntExact).toArray();
        int n = Math.toIntExact(FloatTensor.numel(shape));
        if (info.type == OnnxJavaType.FLOAT) {
            // getFloatBuffer already copies the native data into a new heap buffer of exactly n
            // floats: its array becomes the tensor instead of being copied a second time.
            FloatBuffer fb = t.getFloatBuffer();
            if (fb.hasArray() && fb.arrayOffset() == 0 && fb.array().length == n) {
                return new FloatTensor(fb.array(), shape);
            }
            float[] out = new float[n];
            fb.get(out);
            return new FloatTensor(out, shape);
        }
        float[] out = new float[n];
        switch (info.type) {
            case FLOAT16 -> {
                ShortBuffer sb = t.getShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = HalfFloats.halfToFloat(sb.get(i));
                }
            }
            case BFLOAT16 -> {
                ShortBuffer sb = t.getShortBuffer();
                for (int i = 0; i < out.length; i++) {
                    out[i] = HalfFloats.bfloat16ToFloat(sb.get(i));
                }
            }
            default -> throw new CycleDiffusionException("expected a float output, found " + OrtElementType.name(info.type) + " " + info);
        }
        return new FloatTensor(out, shape);
    }
}
