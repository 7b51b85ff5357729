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

    /** The exporter's default (the UNet's attention as ONNX Runtime's MultiHeadAttention). */
    static synchronized Path of(String fixtureModel) {
        return EXPORTED.computeIfAbsent(fixtureModel, m -> {
            Path out = root().resolve(m + "-onnx");
            OnnxExporter.export(Fixtures.model(m), out, line -> System.out.println("export " + m + ": " + line), true);
            return out;
        });
    }

    /** Standard ONNX operators only ({@code -Dcyclediffusion.onnxExport.contribAttention=false}). */
    static synchronized Path standardOps(String fixtureModel) {
        return EXPORTED.computeIfAbsent(fixtureModel + " standard", k -> {
            Path out = root().resolve(fixtureModel + "-onnx-standard");
            OnnxExporter.export(Fixtures.model(fixtureModel), out, line -> System.out.println("export " + k + ": " + line), false);
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
