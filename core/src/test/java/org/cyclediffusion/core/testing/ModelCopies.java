package org.cyclediffusion.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.cyclediffusion.core.io.HalfFloats;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.SafetensorsFile.TensorInfo;
import org.cyclediffusion.core.io.SafetensorsWriter;

/** Model folders derived from the fixtures for layouts no fixture has (variant files, shards, hub snapshots). */
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
            String stem = stem(c);
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

    /** The weights' stem of a component: transformers models {@code model}, diffusers models {@code diffusion_pytorch_model}. */
    private static String stem(String component) {
        return component.equals("text_encoder") || component.equals("safety_checker") ? "model" : "diffusion_pytorch_model";
    }

    /** A copy of {@code model} whose given components are saved in {@code count} shards each ({@link #shard}). */
    public static Path shardedCopy(Path model, Path dst, int count, String... components) {
        copyTree(model, dst);
        for (String c : components) {
            shard(dst.resolve(c), stem(c), null, count);
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

    /**
     * Re-saves a component's weights ({@code stem[.variant].safetensors}) as {@code count} shards
     * and an index, as {@code save_pretrained(max_shard_size=...)} does: the tensors in file order,
     * cut into runs of about equal bytes, the shards named {@code stem[.variant]-0000i-of-0000n}
     * and the index {@code stem.safetensors.index[.variant].json}. The single file is deleted;
     * returns the index.
     */
    public static Path shard(Path componentDir, String stem, String variant, int count) {
        String v = variant == null ? "" : "." + variant;
        Path single = componentDir.resolve(stem + v + ".safetensors");
        Map<String, String> weightMap = new TreeMap<>();
        long total = 0;
        try (SafetensorsFile st = SafetensorsFile.open(single)) {
            List<TensorInfo> all = new ArrayList<>(st.tensors().values());
            if (all.size() < count) {
                throw new IllegalArgumentException(single + ": " + all.size() + " tensors cannot fill " + count + " shards");
            }
            for (TensorInfo t : all) {
                total += t.byteSize();
            }
            int next = 0;
            long written = 0;
            for (int k = 1; k <= count; k++) {
                String name = String.format("%s%s-%05d-of-%05d.safetensors", stem, v, k, count);
                SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
                long until = total * k / count;
                int last = k == count ? all.size() : all.size() - (count - k); // leaves a tensor for every later shard
                do { // at least one tensor per shard
                    TensorInfo t = all.get(next++);
                    w.add(t.name(), t.dtype(), t.shape(), o -> Channels.newChannel(o).write(st.buffer(t.name())));
                    weightMap.put(t.name(), name);
                    written += t.byteSize();
                } while (next < last && (k == count || written < until));
                w.write(componentDir.resolve(name));
            }
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode index = json.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode map = index.putObject("weight_map");
        weightMap.forEach(map::put);
        Path indexFile = componentDir.resolve(stem + ".safetensors.index" + v + ".json");
        try {
            json.writerWithDefaultPrettyPrinter().writeValue(indexFile.toFile(), index);
            Files.delete(single);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return indexFile;
    }
}
