package org.cyclediffusion.libtorch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.testing.Fixtures;

/**
 * A writable copy of a fixture model folder for tests that break one thing: files are symbolic
 * links to the fixture until a test replaces one (a config edited, a safetensors file rewritten
 * with a tensor dropped or reshaped).
 */
final class ModelFolderCopy {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private final Path root;

    private ModelFolderCopy(Path root) {
        this.root = root;
    }

    static ModelFolderCopy of(String fixture, Path tmp) {
        Path source = Fixtures.model(fixture);
        Path target = tmp.resolve(fixture);
        try (Stream<Path> files = Files.walk(source)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path t = target.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.createSymbolicLink(t, p.toAbsolutePath());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new ModelFolderCopy(target);
    }

    Path root() {
        return root;
    }

    Path file(String component, String name) {
        return root.resolve(component).resolve(name);
    }

    /** Edits a component's config.json. */
    void editConfig(String component, Consumer<ObjectNode> edit) {
        Path p = file(component, "config.json");
        try {
            ObjectNode node = (ObjectNode) MAPPER.readTree(p.toFile());
            edit.accept(node);
            Files.delete(p);
            MAPPER.writerWithDefaultPrettyPrinter().writeValue(p.toFile(), node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Replaces a file by a few bytes (a stand-in the loader must refuse before reading it). */
    void replace(String component, String from, String to) {
        try {
            Files.delete(file(component, from));
            Files.writeString(file(component, to), "not a real pickle");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Rewrites a safetensors file with every occurrence of each key of {@code replacements} in tensor names replaced. */
    void renameTensors(String component, String name, Map<String, String> replacements) {
        rewrite(component, name, Map.of(), replacements);
    }

    /**
     * Rewrites a safetensors file: {@code shapes} maps a tensor name to a new shape (same element
     * count, so the file stays valid) or to null to drop the tensor.
     */
    void rewriteSafetensors(String component, String name, Map<String, long[]> shapes) {
        rewrite(component, name, shapes, Map.of());
    }

    private void rewrite(String component, String name, Map<String, long[]> shapes, Map<String, String> replacements) {
        Path p = file(component, name);
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        Map<String, ByteBuffer> data = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(p)) {
            long offset = 0;
            for (SafetensorsFile.TensorInfo info : st.tensors().values()) {
                if (shapes.containsKey(info.name()) && shapes.get(info.name()) == null) {
                    continue;
                }
                long[] shape = shapes.getOrDefault(info.name(), info.shape());
                long len = info.end() - info.begin();
                String renamed = info.name();
                for (Map.Entry<String, String> r : replacements.entrySet()) {
                    renamed = renamed.replace(r.getKey(), r.getValue());
                }
                header.put(renamed, Map.of("dtype", info.dtype().name(), "shape", shape, "data_offsets", new long[] {offset, offset + len}));
                ByteBuffer copy = ByteBuffer.allocate((int) len);
                copy.put(st.buffer(info.name()));
                data.put(info.name(), copy.flip());
                offset += len;
            }
        }
        try {
            byte[] json = MAPPER.writeValueAsBytes(header);
            Files.delete(p);
            try (OutputStream out = Files.newOutputStream(p)) {
                out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
                out.write(json);
                var channel = Channels.newChannel(out);
                for (ByteBuffer b : data.values()) {
                    channel.write(b);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
