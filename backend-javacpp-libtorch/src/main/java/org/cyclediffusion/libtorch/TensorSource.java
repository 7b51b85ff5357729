package org.cyclediffusion.libtorch;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Collection;
import org.cyclediffusion.core.io.SafetensorsFile;

/**
 * Where {@link TorchWeights} reads tensors: their stored names, dtypes and shapes, and each one's
 * raw little-endian bytes as a read-only mapping. One safetensors file is the usual source; a
 * container that stores the same tensors under other names (a single-file checkpoint) or in
 * another precision is another implementation, and {@link TorchWeights} converts what it finds.
 */
interface TensorSource extends AutoCloseable {
    /** Named in messages (the file, or the file and the part of it that holds this network). */
    Path path();

    /** Every tensor, with the name and dtype as stored. */
    Collection<SafetensorsFile.TensorInfo> tensors();

    /** The tensor's bytes, memory-mapped; the mapping stays valid after {@link #close()}. */
    ByteBuffer buffer(String storedName);

    @Override
    void close();

    /** One safetensors file. */
    static TensorSource of(SafetensorsFile file) {
        return new TensorSource() {
            @Override
            public Path path() {
                return file.path();
            }

            @Override
            public Collection<SafetensorsFile.TensorInfo> tensors() {
                return file.tensors().values();
            }

            @Override
            public ByteBuffer buffer(String storedName) {
                return file.buffer(storedName);
            }

            @Override
            public void close() {
                file.close();
            }
        };
    }
}
