package org.cyclediffusion.core.io;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;

/**
 * Named tensors whose bytes a backend reads without a copy through the Java heap: a safetensors
 * file as stored, or a renamed and re-sliced view of one (an original-layout checkpoint seen with
 * diffusers' names). Each entry's {@code begin}/{@code end} are byte offsets into the underlying
 * file's data section, so a view is only a different table over the same mapped bytes.
 */
public interface TensorSource extends AutoCloseable {
    /** The file the bytes come from, named in every message. */
    Path path();

    /** Every tensor by the name a network asks for, with its dtype and shape. */
    Map<String, SafetensorsFile.TensorInfo> tensors();

    /** One tensor's entry, failing with the file and a few of the names it has. */
    SafetensorsFile.TensorInfo info(String name);

    /**
     * The tensor's raw little-endian bytes, memory-mapped read-only from {@link #path()} (valid after
     * {@link #close()}). It must be a mapping of the file, not a copy in other memory: a backend may
     * drop the mapping's resident pages to have them read from the file again (the LibTorch
     * backend's release of weights after use), which would zero a copy.
     */
    ByteBuffer buffer(String name);

    /** What the tensors are, for messages: the path, or the path and the part of it that is seen. */
    default String describe() {
        return path().toString();
    }

    @Override
    void close();
}
