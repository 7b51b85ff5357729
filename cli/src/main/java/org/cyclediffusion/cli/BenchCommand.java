package org.cyclediffusion.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.PilResample;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.precision.AutoDType;
import org.cyclediffusion.core.pipeline.Timings;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cyclediffusion bench}: runs the same edit under each configuration and image size and
 * prints, per phase (load, prompt encoding, VAE encode, each step, VAE decode, safety checker,
 * whole edit), the median time, the RSS after load and the peak RSS, then every figure as a ratio
 * to the baseline configuration of the same run. Each configuration and size runs in a fresh JVM
 * by default, so its load time and memory are its own; {@code --rounds} repeats the whole sweep,
 * interleaved (A, B, A, B), so a busy machine affects all configurations alike.
 * {@code --random-model sd15} benchmarks full-size networks with no download.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Benchmark edits per configuration and image size: time per phase (load, prompt, VAE encode, each step,"
            + " VAE decode, safety), RSS after load and peak RSS, and ratios to the baseline configuration of the same run.",
            "Full-size SD 1.5 with random weights, no download:",
            "  OMP_NUM_THREADS=1 cyclediffusion bench --random-model sd15 --size 256 --size 512"})
final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "SPEC",
            description = "A configuration: BACKEND[=DIR][,dtype=T][,device=D][,source-guided=B][,label=NAME][,-Dkey=value][,env.NAME=value];"
                + " repeat to compare (e.g. onnx=models/sd-onnx libtorch=models/sd). The first is the baseline of the ratios."
                + " source-guided=true runs diffusers' 4 UNet rows per image (see edit --source-guided). -D entries"
                + " are system properties of that configuration's JVM, env. entries variables of its environment (empty: removed)."
                + " Default: libtorch with --random-model.")
    List<String> configSpecs = new ArrayList<>();

    @Option(names = "--model", paramLabel = "DIR", description = "Model folder of configurations that name none.")
    Path model;

    @Option(names = "--random-model", paramLabel = "ARCH",
            description = "sd15 or sd21: full-size networks with seeded random weights, written once to the cache (~5 GB) and used as --model.")
    String randomModel;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Where --random-model folders are kept (default: $XDG_CACHE_HOME or ~/.cache, /cyclediffusion/random-models).")
    Path cacheDir;

    @Option(names = "--image", paramLabel = "FILE", description = "Input image (default: a synthetic test image of each --size).")
    Path image;

    @Option(names = "--size", paramLabel = "N",
            description = "Resize the input to N×N (a multiple of 8); repeat for several sizes (default: the image's size, 256 if synthetic).")
    List<Integer> sizes = new ArrayList<>();

    @Option(names = "--prompt", defaultValue = "An astronaut riding an elephant", paramLabel = "TEXT",
            description = "Target prompt (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--source-prompt", defaultValue = "An astronaut riding a horse", paramLabel = "TEXT",
            description = "Source prompt (default: ${DEFAULT-VALUE}).")
    String sourcePrompt;

    @Option(names = {"--steps", "--num-inference-steps"}, defaultValue = "10", paramLabel = "N",
            description = "Steps of the full schedule (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--strength", defaultValue = "0.2", paramLabel = "S",
            description = "Fraction of the schedule run, in (0, 1] (default: ${DEFAULT-VALUE}: 10 steps run 2).")
    double strength;

    @Option(names = "--guidance-scale", defaultValue = "2", paramLabel = "G",
            description = "Guidance of the target prompt; > 1 runs the UNet on a batch of 4 (default: ${DEFAULT-VALUE}).")
    double guidanceScale;

    @Option(names = "--eta", defaultValue = "0.1", paramLabel = "E", description = "DDIM stochasticity, > 0 (default: ${DEFAULT-VALUE}).")
    double eta;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "Seed of the edit (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--device", paramLabel = "DEV", description = "cpu or cuda[:N] for configurations that name none (default: cpu).")
    String device;

    @Option(names = "--dtype", paramLabel = "T",
            description = "fp32, fp16, bf16, or auto (as edit --dtype auto) for configurations that name none (default: the backend's for the device).")
    String dtype;

    @Option(names = "--runs", defaultValue = "3", paramLabel = "N", description = "Timed edits per configuration and size, >= 1 (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--warmup", defaultValue = "1", paramLabel = "N", description = "Untimed edits first, >= 0 (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--rounds", defaultValue = "1", paramLabel = "N",
            description = "Repeat the whole sweep, interleaving configurations; figures are medians over rounds (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--in-process", description = "Run every configuration in this JVM (faster to start; load and peak RSS then less separable).")
    boolean inProcess;

    @Option(names = "--no-safety-checker", description = "Do not run the models' safety checker.")
    boolean noSafetyChecker;

    @Option(names = "--vae-tiling", description = "Tiled VAE encode and decode for images larger than the VAE's sample size (as edit --vae-tiling).")
    boolean vaeTiling;

    @Option(names = "--verbose", description = "Stack traces on errors.")
    boolean verbose;

    /** One configuration at one size in this JVM, result printed as one line (how the parent runs its children). */
    @Option(names = "--child", hidden = true)
    boolean child;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        requireAtLeast("--runs", runs, 1);
        requireAtLeast("--warmup", warmup, 0);
        requireAtLeast("--rounds", rounds, 1);
        for (int s : sizes) {
            if (s < 8 || s % 8 != 0) {
                throw new Errors.UsageException("--size " + s + ": expected a positive multiple of 8 (the VAE down-samples by 8)");
            }
        }
        if (device != null) {
            Errors.flagValue(() -> Device.parse(device), "--device");
        }
        if (dtype != null && !AutoDType.requested(dtype)) {
            Errors.flagValue(() -> DType.parse(dtype), "--dtype");
        }
        if (randomModel != null && model != null) {
            throw new Errors.UsageException("--random-model and --model: give one of them");
        }
        Path defaultModel = model;
        if (randomModel != null) {
            defaultModel = RandomModels.cached(new PipelineLoader().registry(), randomModel, 0, cacheDir != null ? cacheDir : RandomModels.cacheRoot(),
                    err);
        }
        List<String> specs = configSpecs.isEmpty() && randomModel != null ? List.of("libtorch") : configSpecs;
        if (specs.isEmpty()) {
            throw new Errors.UsageException("--config is required (e.g. --config libtorch=DIR), or --random-model sd15");
        }
        List<BenchConfig> configs = new ArrayList<>();
        for (String s : specs) {
            BenchConfig parsed = BenchConfig.parse(s, defaultModel, dtype, device);
            // The onnx backend runs an ONNX export: with --random-model, the cached folder's own export.
            BenchConfig c = randomModel != null && parsed.backend().equals("onnx") && parsed.model().equals(defaultModel)
                    ? parsed.withModel(RandomModels.cachedOnnx(defaultModel, err)) : parsed;
            if (inProcess && !c.environment().isEmpty()) {
                throw new Errors.UsageException("--config '" + s + "': env. entries need a JVM of their own; drop --in-process");
            }
            if (configs.stream().anyMatch(o -> o.name().equals(c.name()))) {
                throw new Errors.UsageException("--config '" + s + "': another configuration is also named '" + c.name() + "'; add ,label=NAME");
            }
            configs.add(c);
        }
        RgbImage input = image == null ? null : ImageFiles.read(image);
        List<Integer> sizeList = sizes.isEmpty() ? List.of(input == null ? 256 : -1) : sizes;
        if (child) {
            if (configs.size() != 1 || sizeList.size() != 1) {
                throw new Errors.UsageException("--child runs exactly one --config at one --size");
            }
            out.println(measure(configs.get(0), sizeList.get(0), input).toLine());
            out.flush();
            return Main.OK;
        }
        Map<String, List<BenchResult>> results = new LinkedHashMap<>();
        for (int round = 0; round < rounds; round++) {
            for (int size : sizeList) {
                for (BenchConfig c : configs) {
                    err.printf(Locale.ROOT, "bench: %s at %s, round %d of %d%n", c.name(), size < 0 ? "the image's size" : size + "²", round + 1, rounds);
                    err.flush();
                    BenchResult r = inProcess ? measure(c, size, input) : inChildJvm(c, size, err);
                    results.computeIfAbsent(r.size() + "\u0000" + c.name(), k -> new ArrayList<>()).add(r);
                }
            }
        }
        print(out, results.values().stream().map(BenchResult::median).toList());
        return Main.OK;
    }

    private static void requireAtLeast(String flag, int value, int min) {
        if (value < min) {
            throw new Errors.UsageException(flag + " " + value + ": expected an integer >= " + min);
        }
    }

    /** Loads the configuration, runs the warm-up and timed edits, and reads the memory figures of this JVM. */
    private BenchResult measure(BenchConfig c, int size, RgbImage input) {
        RgbImage img = input == null ? syntheticImage(size) : size < 0 ? input : PilResample.resize(input, size, size, PilResample.Filter.BICUBIC);
        Device dev = c.device() == null ? Device.CPU : Errors.flagValue(() -> Device.parse(c.device()), "--config " + c.name() + " device");
        DType dt = c.dtype() == null || AutoDType.requested(c.dtype()) ? null
                : Errors.flagValue(() -> DType.parse(c.dtype()), "--config " + c.name() + " dtype");
        if (AutoDType.requested(c.dtype())) {
            // as edit --dtype auto decides it (measured once per machine and model, then cached); not part of the load time
            dt = new PipelineLoader().withAutoDType(ModelFolder.open(c.model()), new PipelineLoader.Options(c.model(), c.backend(), dev, null, false),
                    ModelOptions.toStderr(spec.commandLine().getErr())).dtype();
        }
        ProcessMemory.resetPeak(); // in a shared JVM, the peak of this configuration only (as far as freed memory allows)
        long t0 = System.nanoTime();
        // As edit runs it (one-shot: each network's weights released after use), unless -Dcyclediffusion.weightResidency=keep.
        PipelineLoader.Options o = ModelOptions.oneShot(new PipelineLoader.Options(c.model(), c.backend(), dev, dt, !noSafetyChecker));
        try (CycleDiffusionPipeline p = new PipelineLoader().load(o)) {
            double loadMs = (System.nanoTime() - t0) / 1e6;
            long rssAfterLoad = ProcessMemory.rssKb();
            if (vaeTiling && !p.models().vae().setTiling(true)) {
                throw new Errors.UsageException("--vae-tiling: the " + p.models().description() + " VAE cannot tile");
            }
            EditRequest r = EditRequest.builder().prompt(prompt).sourcePrompt(sourcePrompt).image(img).numInferenceSteps(steps)
                    .strength(strength).guidanceScale(guidanceScale).eta(eta).seed(seed).sourceGuided(c.sourceGuided()).outputType(OutputType.NP)
                    .build();
            for (int i = 0; i < warmup; i++) {
                p.edit(r);
            }
            List<Timings> timings = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                EditResult res = p.edit(r);
                timings.add(res.timings());
            }
            int n = timings.get(0).stepsMillis().length;
            double[] step = new double[n];
            for (int i = 0; i < n; i++) {
                int k = i;
                step[i] = median(timings, t -> t.stepsMillis()[k]);
            }
            String description = p.models().description() + ", weights " + p.weightResidency().name().toLowerCase(Locale.ROOT);
            return new BenchResult(c.name(), description, img.width(), loadMs, rssAfterLoad, ProcessMemory.peakRssKb(),
                    median(timings, Timings::promptMillis), median(timings, Timings::encodeMillis), step, median(timings, Timings::decodeMillis),
                    median(timings, Timings::safetyMillis), median(timings, Timings::totalMillis),
                    median(timings, t -> t.schedulerMillis() / java.util.Arrays.stream(t.stepsMillis()).sum()));
        }
    }

    private static double median(List<Timings> timings, ToDoubleFunction<Timings> f) {
        return BenchResult.median(timings.stream().mapToDouble(f).toArray());
    }

    /** A smooth deterministic test picture (gradients and rings), so no input file is needed. */
    static RgbImage syntheticImage(int size) {
        byte[] rgb = new byte[3 * size * size];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                double u = x / (double) size;
                double v = y / (double) size;
                double ring = 0.5 + 0.5 * Math.sin(12 * Math.hypot(u - 0.5, v - 0.5));
                int i = 3 * (y * size + x);
                rgb[i] = (byte) Math.round(255 * u);
                rgb[i + 1] = (byte) Math.round(255 * v);
                rgb[i + 2] = (byte) Math.round(255 * ring);
            }
        }
        return new RgbImage(size, size, rgb);
    }

    /** Runs one configuration at one size in a fresh JVM with this JVM's class path and memory flags, plus its -D entries. */
    private BenchResult inChildJvm(BenchConfig c, int size, PrintWriter err) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-X") || a.startsWith("-D")) { // heap and properties; not agents or debuggers
                cmd.add(a);
            }
        }
        cmd.addAll(c.systemProperties());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "bench", "--child", "--config", c.spec(),
                "--prompt", prompt, "--source-prompt", sourcePrompt, "--steps", String.valueOf(steps), "--strength", String.valueOf(strength),
                "--guidance-scale", String.valueOf(guidanceScale), "--eta", String.valueOf(eta), "--seed", String.valueOf(seed),
                "--runs", String.valueOf(runs), "--warmup", String.valueOf(warmup)));
        if (size > 0) {
            cmd.addAll(List.of("--size", String.valueOf(size)));
        }
        if (image != null) {
            cmd.addAll(List.of("--image", image.toString()));
        }
        if (noSafetyChecker) {
            cmd.add("--no-safety-checker");
        }
        if (vaeTiling) {
            cmd.add("--vae-tiling");
        }
        if (verbose) {
            cmd.add("--verbose");
        }
        ProcessBuilder builder = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
        c.applyEnvironment(builder.environment());
        Process p = builder.start();
        BenchResult result = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith(BenchResult.LINE_PREFIX)) {
                    result = BenchResult.fromLine(line);
                } else {
                    err.println(line);
                }
            }
        }
        int code;
        try {
            code = p.waitFor();
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new CycleDiffusionException("bench interrupted", e);
        }
        if (code != 0 || result == null) {
            throw new CycleDiffusionException("configuration " + c.name() + " failed in its JVM (exit " + code + "; its messages are above)");
        }
        return result;
    }

    private void print(PrintWriter out, List<BenchResult> all) {
        // the UNet rows per image of a step: diffusers' 4 under guidance, 3 when the source chain runs unguided (see source-guided)
        out.printf(Locale.ROOT, "edit: %d steps x %.2f strength, guidance %s (UNet batch %d; source-guided=true: %d), eta %s, seed %d; %d timed edits"
                + " after %d warm-up, %d round(s), medians; %s%n", steps, strength, guidanceScale, guidanceScale > 1 ? 3 : 2, guidanceScale > 1 ? 4 : 3,
                eta, seed, runs, warmup, rounds,
                inProcess ? "one JVM" : "one JVM per configuration and size");
        out.printf(Locale.ROOT, "OMP_NUM_THREADS=%s%n", System.getenv().getOrDefault("OMP_NUM_THREADS", "(unset)"));
        String header = String.format(Locale.ROOT, "%-30s %5s %9s %10s %10s %10s %10s %10s %10s %10s %10s", "configuration", "size", "load s",
                "RSS load", "prompt ms", "VAE enc ms", "step ms", "VAE dec ms", "safety ms", "edit ms", "peak RSS");
        out.println(header);
        for (BenchResult r : all) {
            out.printf(Locale.ROOT, "%-30s %5d %9.2f %9.0fM %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %9.0fM%n", r.name(), r.size(), r.loadMs() / 1e3,
                    r.rssAfterLoadKb() / 1024.0, r.promptMs(), r.encodeMs(), r.meanStepMs(), r.decodeMs(), r.safetyMs(), r.editMs(),
                    r.peakRssKb() / 1024.0);
        }
        out.println("ratios to the baseline (the first configuration at the same size):");
        out.println(header);
        for (BenchResult r : all) {
            BenchResult b = all.stream().filter(x -> x.size() == r.size()).findFirst().orElseThrow();
            out.printf(Locale.ROOT, "%-30s %5d %9s %10s %10s %10s %10s %10s %10s %10s %10s%n", r.name(), r.size(), ratio(r.loadMs(), b.loadMs()),
                    ratio(r.rssAfterLoadKb(), b.rssAfterLoadKb()), ratio(r.promptMs(), b.promptMs()), ratio(r.encodeMs(), b.encodeMs()),
                    ratio(r.meanStepMs(), b.meanStepMs()), ratio(r.decodeMs(), b.decodeMs()), ratio(r.safetyMs(), b.safetyMs()),
                    ratio(r.editMs(), b.editMs()), ratio(r.peakRssKb(), b.peakRssKb()));
        }
        out.println("each step (ms) and the share of the steps spent in the sampler's Java math:");
        for (BenchResult r : all) {
            StringBuilder s = new StringBuilder();
            for (double v : r.stepMs()) {
                s.append(String.format(Locale.ROOT, " %.1f", v));
            }
            out.printf(Locale.ROOT, "%-30s %5d%s; sampler %.3f%%; %s%n", r.name(), r.size(), s, 100 * r.schedulerShare(), r.description());
        }
        out.flush();
    }

    private static String ratio(double value, double baseline) {
        return baseline > 0 ? String.format(Locale.ROOT, "%.2f", value / baseline) : "-";
    }
}
