package org.cyclediffusion.core.io;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Named tensors whose bytes a backend reads without a copy through the Java heap: a safetensors
 * file as stored, or a renamed and re-sliced view of one (an original-layout checkpoint seen with
 * diffusers' names). Each entry's {@code begin}/{@code end} are byte offsets into the underlying
 * file's data section, so a view is only a different table over the same mapped bytes. A sharded
 * checkpoint ({@link ShardedSafetensors}) is one table over several files.
 */
public interface TensorSource extends AutoCloseable {
    /** The file the bytes come from, named in every message. */
    Path path();

    /** Every tensor by the name a network asks for, with its dtype and shape. */
    Map<String, SafetensorsFile.TensorInfo> tensors();

    /** One tensor's entry, failing with the file and a few of the names it has. */
    default SafetensorsFile.TensorInfo info(String name) {
        SafetensorsFile.TensorInfo t = tensors().get(name);
        if (t == null) {
            throw noSuchTensor(name);
        }
        return t;
    }

    /**
     * The tensor's raw little-endian bytes, memory-mapped read-only from {@link #path()} (valid after
     * {@link #close()}). It must be a mapping of the file, not a copy in other memory: a backend may
     * drop the mapping's resident pages to have them read from the file again (the LibTorch
     * backend's release of weights after use), which would zero a copy.
     */
    ByteBuffer buffer(String name);

    /**
     * A floating-point tensor converted to float32 on the heap: F32 as stored, F16 and BF16
     * widened exactly, F64 rounded to nearest (as torch's {@code .float()}).
     */
    default FloatTensor floatTensor(String name) {
        SafetensorsFile.TensorInfo t = info(name);
        if (!t.dtype().isFloatingPoint()) {
            throw new ConfigException(describe() + ": tensor '" + name + "' is " + t.dtype()
                    + ", expected a floating-point dtype (F32, F16, BF16, F64)");
        }
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw new ConfigException(describe() + ": tensor '" + name + "' has " + t.numel() + " elements, more than a Java array holds");
        }
        int[] shape;
        try {
            shape = t.intShape();
        } catch (ConfigException e) {
            throw new ConfigException(describe() + ": " + e.getMessage());
        }
        ByteBuffer b = buffer(name);
        int n = (int) t.numel();
        float[] out = new float[n];
        switch (t.dtype()) {
            case F32 -> b.asFloatBuffer().get(out);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloats.halfToFloat(b.getShort(2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloats.bfloat16ToFloat(b.getShort(2 * i));
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getDouble(8 * i);
                }
            }
            default -> throw new AssertionError(t.dtype());
        }
        return new FloatTensor(out, shape);
    }

    /** The failure for a name this source lacks: where, the name, and a few of the names it has. */
    default ConfigException noSuchTensor(String name) {
        List<String> names = List.copyOf(tensors().keySet());
        return new ConfigException(describe() + ": no tensor named '" + name + "' (" + names.size() + " tensors"
                + (names.isEmpty() ? "" : ", e.g. " + names.subList(0, Math.min(5, names.size()))) + ")");
    }

    /** What the tensors are, for messages: the path, or the path and the part of it that is seen. */
    default String describe() {
        return path().toString();
    }

    @Override
    void close();
}
