package org.cyclediffusion.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.cyclediffusion.core.io.HalfFloats;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.SafetensorsFile.TensorInfo;
import org.cyclediffusion.core.io.SafetensorsWriter;

/** Model folders derived from the fixtures for layouts no fixture has (variant files, hub snapshots). */
public final class ModelCopies {
    private ModelCopies() {
    }

    /** A copy of {@code src} (every file, recursively). */
    public static void copyTree(Path src, Path dst) {
        try (Stream<Path> all = Files.walk(src)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Path target = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A copy of {@code model} whose weights of the given components are only fp16 variant files
     * ({@code model.fp16.safetensors}, {@code diffusion_pytorch_model.fp16.safetensors}), as
     * {@code save_pretrained(variant="fp16")} of a half-precision pipeline leaves them.
     */
    public static Path fp16VariantOnly(Path model, Path dst, String... components) {
        copyTree(model, dst);
        for (String c : components) {
            String stem = c.equals("text_encoder") || c.equals("safety_checker") ? "model" : "diffusion_pytorch_model";
            Path plain = dst.resolve(c).resolve(stem + ".safetensors");
            writeFp16(plain, dst.resolve(c).resolve(stem + ".fp16.safetensors"));
            try {
                Files.delete(plain);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return dst;
    }

    /** {@code src} with every F32 tensor rounded to F16, as {@code pipe.save_pretrained(..., variant="fp16")} after {@code .half()}. */
    public static void writeFp16(Path src, Path dst) {
        try (SafetensorsFile st = SafetensorsFile.open(src)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (TensorInfo t : st.tensors().values()) {
                if (t.dtype() != SafetensorsDType.F32) {
                    w.add(t.name(), t.dtype(), t.shape(), o -> Channels.newChannel(o).write(st.buffer(t.name())));
                    continue;
                }
                float[] v = st.floatTensor(t.name()).data();
                w.add(t.name(), SafetensorsDType.F16, t.shape(), o -> {
                    ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                    for (float x : v) {
                        b.putShort(HalfFloats.floatToHalf(x));
                    }
                    o.write(b.array());
                });
            }
            w.write(dst);
        }
    }
}
