package org.cyclediffusion.onnxexport;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Supplier;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.TensorSource;

/**
 * One component's diffusers safetensors weights (one file or shards), read as float32 bytes for ONNX initializers. float32
 * tensors are handed on as the file's mapping (nothing copied until the exporter writes them);
 * float16, bfloat16 and float64 are converted as torch's {@code .float()} does.
 */
final class Weights implements AutoCloseable {
    private final TensorSource file;

    /** Takes over {@code source} (a single file or a sharded checkpoint) and closes it. */
    Weights(TensorSource source) {
        this.file = source;
    }

    boolean has(String name) {
        return file.tensors().containsKey(name);
    }

    long[] shape(String name) {
        return require(name).shape();
    }

    long dim(String name, int i) {
        return shape(name)[i];
    }

    /** The tensor as little-endian float32 bytes, read when the supplier is called. */
    Supplier<ByteBuffer> f32(String name) {
        SafetensorsFile.TensorInfo t = require(name);
        return () -> {
            if (t.dtype() == SafetensorsDType.F32) {
                return file.buffer(name);
            }
            float[] v = file.floatTensor(name).data();
            ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            return b;
        };
    }

    /** A 2-D weight [out, in] transposed to [in, out], the right operand of a MatMul (as torch.onnx folds Linear). */
    Supplier<ByteBuffer> f32Transposed(String name) {
        return f32Transposed(name, 0, Math.toIntExact(shape(name)[0]));
    }

    /** Rows {@code from} … {@code from + count − 1} of a 2-D weight [out, in] (some of a Linear's outputs), transposed to [in, count]. */
    Supplier<ByteBuffer> f32Transposed(String name, int from, int count) {
        long[] s = shape(name);
        if (s.length != 2 || from < 0 || count < 0 || from + count > s[0]) {
            throw new ConfigException(file.describe() + ": '" + name + "' has shape " + java.util.Arrays.toString(s) + ", expected 2 dims with rows "
                    + from + " to " + (from + count));
        }
        int cols = Math.toIntExact(s[1]);
        return () -> {
            float[] v = file.floatTensor(name).data();
            ByteBuffer b = ByteBuffer.allocate(4 * count * cols).order(ByteOrder.LITTLE_ENDIAN);
            for (int c = 0; c < cols; c++) {
                for (int r = from; r < from + count; r++) {
                    b.putFloat(v[r * cols + c]);
                }
            }
            return b.flip();
        };
    }

    /** Elements {@code from} … {@code from + count − 1} of a 1-D tensor (a bias), as float32 bytes. */
    Supplier<ByteBuffer> f32Slice(String name, int from, int count) {
        long[] s = shape(name);
        if (s.length != 1 || from < 0 || count < 0 || from + count > s[0]) {
            throw new ConfigException(file.describe() + ": '" + name + "' has shape " + java.util.Arrays.toString(s) + ", expected 1 dim with elements "
                    + from + " to " + (from + count));
        }
        return () -> {
            float[] v = file.floatTensor(name).data();
            ByteBuffer b = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v, from, count);
            return b;
        };
    }

    private SafetensorsFile.TensorInfo require(String name) {
        if (!has(name)) {
            throw new ConfigException(file.describe() + ": no tensor '" + name + "' (the exporter expects diffusers' state-dict names)");
        }
        SafetensorsFile.TensorInfo t = file.info(name);
        if (!t.dtype().isFloatingPoint()) {
            throw new ConfigException(file.describe() + ": tensor '" + name + "' is " + t.dtype() + ", expected a floating-point dtype");
        }
        return t;
    }

    @Override
    public void close() {
        file.close();
    }
}
