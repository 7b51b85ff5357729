package org.cyclediffusion.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.plugin.Registry;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code cyclediffusion random-model}: writes a full-size Stable Diffusion folder with seeded random
 * weights (no download), for benchmarks and memory tests. Any diffusers-folder backend loads it.
 */
@Command(name = "random-model", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Write a full-size Stable Diffusion folder (diffusers layout, float32 safetensors) with seeded random weights.")
final class RandomModelCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "ARCH", description = "sd15 (SD v1.5, with safety checker) or sd21 (SD v2.1 768, v-prediction).")
    String architecture;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "The folder to create (must not exist, or be empty).")
    Path output;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "Seed of the weights (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--no-safety-checker", description = "Leave out safety_checker/ (SD 1.5 only; saves 1.2 GB).")
    boolean noSafetyChecker;

    @Option(names = "--format", defaultValue = "diffusers", paramLabel = "FORMAT",
            description = "diffusers (safetensors) or onnx (optimum's ONNX layout, exported from a diffusers folder written"
                    + " beside the output and removed after). Default: ${DEFAULT-VALUE}.")
    String format;

    @Option(names = "--verbose", description = "Stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() {
        long start = System.nanoTime();
        switch (format) {
            case "diffusers" -> RandomModels.writer(Registry.discover()).write(architecture, output, seed, !noSafetyChecker);
            case "onnx" -> writeOnnx();
            default -> throw new Errors.UsageException("--format " + format + ": expected diffusers or onnx");
        }
        spec.commandLine().getErr().printf("wrote %s in %.1f s%n", output, (System.nanoTime() - start) / 1e9);
        spec.commandLine().getOut().println(output);
        return Main.OK;
    }

    private void writeOnnx() {
        Path diffusers = output.toAbsolutePath().resolveSibling("." + output.getFileName() + ".diffusers-" + ProcessHandle.current().pid());
        var err = spec.commandLine().getErr();
        try {
            RandomModels.writer(Registry.discover()).write(architecture, diffusers, seed, !noSafetyChecker);
            RandomModels.exportOnnx(diffusers, output, err);
        } finally {
            deleteRecursively(diffusers);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!java.nio.file.Files.exists(dir)) {
            return;
        }
        try (var files = java.nio.file.Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(dir + ": cannot remove the intermediate diffusers folder", e);
        }
    }
}
