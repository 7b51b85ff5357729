package org.cyclediffusion.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.spi.Device;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cyclediffusion bench}: times whole edits per configuration in one process and prints
 * per-step and end-to-end medians, the share of each step spent in the sampler's Java math, peak
 * resident memory, and each figure as a ratio to the fastest configuration of the same run.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Benchmark edits: per-step and end-to-end time, scheduler share, peak RSS, ratios to the best configuration.")
final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", required = true, paramLabel = "BACKEND=DIR",
            description = "A backend and the model folder it runs; repeat to compare (e.g. onnx=models/sd-onnx libtorch=models/sd).")
    Map<String, Path> configs = new LinkedHashMap<>();

    @Option(names = "--image", required = true, paramLabel = "FILE")
    Path image;

    @Option(names = "--prompt", defaultValue = "An astronaut riding an elephant")
    String prompt;

    @Option(names = "--source-prompt", defaultValue = "An astronaut riding a horse")
    String sourcePrompt;

    @Option(names = "--steps", defaultValue = "20")
    int steps;

    @Option(names = "--strength", defaultValue = "0.8")
    double strength;

    @Option(names = "--guidance-scale", defaultValue = "2")
    double guidanceScale;

    @Option(names = "--runs", defaultValue = "3", description = "Timed runs per configuration (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed runs first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--no-safety-checker")
    boolean noSafetyChecker;

    @Option(names = "--verbose")
    boolean verbose;

    record Figures(String name, double medianTotal, double medianStep, double schedulerShare, long peakRssKb) {
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        RgbImage input = ImageFiles.read(image);
        List<Figures> all = new ArrayList<>();
        for (Map.Entry<String, Path> c : configs.entrySet()) {
            PipelineLoader.Options o = new PipelineLoader.Options(c.getValue(), c.getKey(), Device.CPU, null, !noSafetyChecker);
            try (CycleDiffusionPipeline p = new PipelineLoader().load(o)) {
                EditRequest r = EditRequest.builder().prompt(prompt).sourcePrompt(sourcePrompt).image(input).numInferenceSteps(steps)
                        .strength(strength).guidanceScale(guidanceScale).seed(0).outputType(OutputType.NP).build();
                for (int i = 0; i < warmup; i++) {
                    p.edit(r);
                }
                double[] totals = new double[runs];
                double[] perStep = new double[runs];
                double[] share = new double[runs];
                for (int i = 0; i < runs; i++) {
                    EditResult res = p.edit(r);
                    totals[i] = res.timings().totalMillis();
                    perStep[i] = res.timings().meanStepMillis();
                    share[i] = res.timings().schedulerMillis() / Arrays.stream(res.timings().stepsMillis()).sum();
                }
                all.add(new Figures(p.models().description(), median(totals), median(perStep), median(share), peakRssKb()));
            }
        }
        double bestTotal = all.stream().mapToDouble(Figures::medianTotal).min().orElse(1);
        double bestStep = all.stream().mapToDouble(Figures::medianStep).min().orElse(1);
        out.printf(Locale.ROOT, "%-28s %12s %8s %12s %8s %12s %14s%n", "configuration", "edit ms", "ratio", "step ms", "ratio", "sampler %",
                "peak RSS MiB");
        for (Figures f : all) {
            out.printf(Locale.ROOT, "%-28s %12.1f %8.2f %12.2f %8.2f %12.3f %14.1f%n", f.name(), f.medianTotal(), f.medianTotal() / bestTotal,
                    f.medianStep(), f.medianStep() / bestStep, 100 * f.schedulerShare(), f.peakRssKb() / 1024.0);
        }
        out.printf(Locale.ROOT, "(%d steps x %.2f strength, %d timed runs after %d warm-up; medians; ratios to the fastest configuration;"
                + " peak RSS is the process high-water mark so far)%n", steps, strength, runs, warmup);
        return Main.OK;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** VmHWM from /proc (Linux); 0 elsewhere. */
    static long peakRssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }
}
