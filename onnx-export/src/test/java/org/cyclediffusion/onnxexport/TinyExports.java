package org.cyclediffusion.onnxexport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.cyclediffusion.core.testing.Fixtures;

/** The fixture diffusers models exported once per test JVM into a temporary folder (deleted at exit). */
final class TinyExports {
    private static final Map<String, Path> EXPORTED = new HashMap<>();
    private static Path root;

    private TinyExports() {
    }

    static synchronized Path of(String fixtureModel) {
        return EXPORTED.computeIfAbsent(fixtureModel, m -> {
            Path out = root().resolve(m + "-onnx");
            OnnxExporter.export(Fixtures.model(m), out, line -> System.out.println("export " + m + ": " + line));
            return out;
        });
    }

    private static Path root() {
        if (root == null) {
            try {
                root = Files.createTempDirectory("onnx-export-test");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Path dir = root;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try (Stream<Path> files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                } catch (IOException ignored) {
                    // a temporary folder left behind is harmless
                }
            }));
        }
        return root;
    }
}
