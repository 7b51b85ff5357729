package org.cyclediffusion.core.checkpoint;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.SafetensorsFile.TensorInfo;
import org.cyclediffusion.core.io.TensorSource;

/**
 * One network's tensors inside an original-layout checkpoint, under diffusers' names. Every entry
 * points into the checkpoint's own bytes: a renamed tensor keeps its range, a fused q/k/v
 * projection becomes three contiguous thirds of it, a 1×1 convolution weight is the same bytes
 * with the shape of a linear layer. Nothing is copied; the backend reads each range once.
 */
final class RemappedTensors implements TensorSource {
    private final SafetensorsFile file;
    private final String part;
    private final Map<String, TensorInfo> tensors;

    RemappedTensors(SafetensorsFile file, String part, Map<String, TensorInfo> tensors) {
        this.file = file;
        this.part = part;
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    /** The same bytes under another name. */
    static TensorInfo renamed(TensorInfo t, String name) {
        return new TensorInfo(name, t.dtype(), t.shape(), t.begin(), t.end());
    }

    @Override
    public Path path() {
        return file.path();
    }

    @Override
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            List<String> names = new ArrayList<>(tensors.keySet());
            throw new ConfigException(describe() + ": no tensor named '" + name + "' after conversion to diffusers' names (e.g. "
                    + names.subList(0, Math.min(5, names.size())) + ")");
        }
        return t;
    }

    @Override
    public ByteBuffer buffer(String name) {
        return file.buffer(info(name));
    }

    @Override
    public String describe() {
        return file.path() + " (" + part + ")";
    }

    @Override
    public void close() {
        file.close();
    }
}
