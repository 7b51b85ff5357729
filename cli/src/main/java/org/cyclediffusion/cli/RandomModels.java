package org.cyclediffusion.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.RandomModelWriter;

/**
 * Full-size random-weight models for benchmarks: written once per architecture and seed into the
 * user's cache ({@code $XDG_CACHE_HOME/cyclediffusion/random-models}, else
 * {@code ~/.cache/cyclediffusion/random-models}) and reused. A folder appears there only when
 * complete (the writer renames it into place), so its presence means it can be used.
 */
final class RandomModels {
    private RandomModels() {
    }

    static RandomModelWriter writer(Registry registry) {
        return registry.randomModelWriter().orElseThrow(() -> new Errors.UsageException(
                "random models need the LibTorch backend (cyclediffusion-backend-javacpp-libtorch) on the class path"));
    }

    static Path cacheRoot() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("cyclediffusion").resolve("random-models");
    }

    /** The cached folder of {@code architecture} and {@code seed}, written first if missing (minutes, ~5 GB). */
    static Path cached(Registry registry, String architecture, long seed, Path root, java.io.PrintWriter progress) {
        RandomModelWriter w = writer(registry);
        if (!w.architectures().contains(architecture)) {
            throw new Errors.UsageException("--random-model " + architecture + ": expected one of " + w.architectures());
        }
        Path folder = root.resolve(architecture + "-seed" + seed);
        if (!Files.isRegularFile(folder.resolve("model_index.json"))) {
            progress.println("writing the full-size random-weight " + architecture + " model to " + folder + " (once; about 5 GB)");
            progress.flush();
            w.write(architecture, folder, seed, true);
        }
        return folder;
    }

    /**
     * The ONNX export of the cached {@code folder}, kept beside it as {@code <folder>-onnx} and written
     * first if missing (5.5 GB for SD 1.5 with its safety checker).
     */
    static Path cachedOnnx(Path folder, java.io.PrintWriter progress) {
        // named by the exporter's graph revision (and attention form): an older export is never taken for the current graphs
        Path onnx = folder.resolveSibling(folder.getFileName() + "-onnx-r" + org.cyclediffusion.onnxexport.OnnxExporter.GRAPH_REVISION
                + (org.cyclediffusion.onnxexport.OnnxExporter.contribAttention() ? "" : "-std"));
        if (!Files.isRegularFile(onnx.resolve("model_index.json"))) {
            progress.println("exporting " + folder + " to ONNX in " + onnx + " (once)");
            progress.flush();
            exportOnnx(folder, onnx, progress);
        }
        return onnx;
    }

    /** {@link org.cyclediffusion.onnxexport.OnnxExporter#export}, one progress line per network. */
    static void exportOnnx(Path diffusers, Path onnx, java.io.PrintWriter progress) {
        org.cyclediffusion.onnxexport.OnnxExporter.export(diffusers, onnx, line -> {
            progress.println("export-onnx: " + line);
            progress.flush();
        });
    }
}
