package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;

/**
 * Prints figures for the ONNX session choices of issue 8; a benchmark, not a test (nothing is
 * asserted). Runs interleaved, medians, ratios against a baseline measured in the same run:
 * <ul>
 *   <li>{@code load [blocks channels]}: session creation without the cache, at the first start
 *       (optimise and write) and at a later start (load the optimised graph), for the tiny
 *       fixture's five networks and for a larger synthetic graph ({@link OrtSyntheticModel});</li>
 *   <li>{@code step [runs [FILE]]}: the tiny UNet's step time (or one run of the synthetic graph
 *       FILE) under each {@link OrtSessionFactory.Tuning};</li>
 *   <li>{@code synthetic FILE blocks channels}: writes the synthetic graph alone.</li>
 * </ul>
 * Command (from the repository root, after {@code mvn -o -q -pl backend-onnx -am test-compile}): see
 * the README's ONNX section.
 */
public final class OrtSessionBenchmark {
    private OrtSessionBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        switch (args.length == 0 ? "load" : args[0]) {
            case "load" -> load(args.length > 1 ? Integer.parseInt(args[1]) : 40, args.length > 2 ? Integer.parseInt(args[2]) : 256,
                    args.length > 3 ? Integer.parseInt(args[3]) : 5);
            case "step" -> step(args.length > 1 ? Integer.parseInt(args[1]) : 30, args.length > 2 ? Path.of(args[2]) : null);
            case "synthetic" -> OrtSyntheticModel.write(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]), 16, 42);
            default -> throw new IllegalArgumentException("load [blocks channels runs] | step [runs] | synthetic FILE blocks channels");
        }
        System.exit(0);
    }

    private static void load(int blocks, int channels, int runs) throws Exception {
        Path work = Files.createTempDirectory("ort-bench");
        try {
            Path big = Files.createDirectories(work.resolve("synthetic")).resolve("model.onnx");
            OrtSyntheticModel.write(big, blocks, channels, 16, 42);
            System.out.printf(Locale.ROOT, "synthetic graph: %d blocks, %d channels, %.1f MB%n", blocks, channels, Files.size(big) / 1e6);
            OrtRuntime.environment();
            OrtSessionFactory.Tuning tuning = OrtSessionFactory.Tuning.defaults();
            for (String what : List.of("tiny-sd-onnx (5 networks)", "synthetic")) {
                List<Double> none = new ArrayList<>();
                List<Double> first = new ArrayList<>();
                List<Double> second = new ArrayList<>();
                for (int r = 0; r < runs; r++) {
                    Path cacheDir = work.resolve("cache" + r);
                    OrtModelCache cache = OrtModelCache.at(cacheDir);
                    none.add(time(() -> open(what, big, new OrtSessionFactory(Device.CPU, tuning, OrtModelCache.disabled()))));
                    first.add(time(() -> open(what, big, new OrtSessionFactory(Device.CPU, tuning, cache))));
                    second.add(time(() -> open(what, big, new OrtSessionFactory(Device.CPU, tuning, cache))));
                    OrtModelCache.delete(cacheDir);
                }
                double base = median(none);
                System.out.printf(Locale.ROOT, "load %-28s no cache %8.1f ms | first start %8.1f ms (%.2fx) | later start %8.1f ms (%.2fx)%n",
                        what, base, median(first), median(first) / base, median(second), median(second) / base);
            }
        } finally {
            OrtModelCache.delete(work);
        }
    }

    private static void open(String what, Path big, OrtSessionFactory factory) {
        if (what.startsWith("tiny")) {
            OrtModels.open(ModelFolder.open(Fixtures.model("tiny-sd-onnx")), DType.FLOAT32, factory).close();
        } else {
            OrtSession s = factory.open(big);
            try {
                s.close();
            } catch (ai.onnxruntime.OrtException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static void step(int runs, Path synthetic) throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        List<OrtSessionFactory.Tuning> tunings = new ArrayList<>();
        for (int threads : cores > 1 ? new int[] {1, cores} : new int[] {1}) {
            tunings.add(new OrtSessionFactory.Tuning(threads, true, true, true));
            tunings.add(new OrtSessionFactory.Tuning(threads, false, true, true));
        }
        tunings.add(new OrtSessionFactory.Tuning(cores, false, false, true));
        tunings.add(new OrtSessionFactory.Tuning(cores, false, true, false));
        // the README edit's UNet call: batch 4 (two guidance branches of source and target), 64x64 image;
        // or one run of the synthetic graph (convolutions over 16x16), when a file is given
        FloatTensor latents = FloatTensor.zeros(4, 4, 8, 8);
        FloatTensor hidden = FloatTensor.zeros(4, 77, 32);
        List<AutoCloseable> owned = new ArrayList<>();
        List<Runnable> calls = new ArrayList<>();
        for (OrtSessionFactory.Tuning t : tunings) {
            OrtSessionFactory factory = new OrtSessionFactory(Device.CPU, t, OrtModelCache.disabled());
            if (synthetic == null) {
                OrtModels m = OrtModels.open(ModelFolder.open(Fixtures.model("tiny-sd-onnx")), DType.FLOAT32, factory);
                Conditioning c = m.unet().condition(hidden);
                owned.add(c);
                owned.add(m);
                calls.add(() -> m.unet().predict(latents, 500, c));
            } else {
                OrtSession s = factory.open(synthetic);
                long[] shape = ((ai.onnxruntime.TensorInfo) s.getInputInfo().get("x").getInfo()).getShape();
                OnnxTensor x = OrtTensors.floats(FloatTensor.zeros(Arrays.stream(shape).mapToInt(Math::toIntExact).toArray()),
                        ai.onnxruntime.OnnxJavaType.FLOAT);
                owned.add(x);
                owned.add(s);
                calls.add(() -> {
                    try (OrtSession.Result r = s.run(java.util.Map.of("x", x))) {
                        r.get(0);
                    } catch (ai.onnxruntime.OrtException e) {
                        throw new IllegalStateException(e);
                    }
                });
            }
        }
        List<List<Double>> steps = new ArrayList<>();
        List<List<Double>> hostCopies = new ArrayList<>();
        for (int i = 0; i < calls.size(); i++) {
            steps.add(new ArrayList<>());
            hostCopies.add(new ArrayList<>());
        }
        for (int r = 0; r < runs + 3; r++) {
            // a rotating order, so no configuration always runs right after the same other one
            for (int k = 0; k < calls.size(); k++) {
                int i = (k + r) % calls.size();
                double ms = time(calls.get(i));
                // what a per-step upload of the conditioning would add (the design uploads it once per edit)
                double copy = time(() -> {
                    try (OnnxTensor t = OrtTensors.floats(hidden, ai.onnxruntime.OnnxJavaType.FLOAT)) {
                        t.getInfo();
                    }
                });
                if (r >= 3) {
                    steps.get(i).add(ms);
                    hostCopies.get(i).add(copy);
                }
            }
        }
        double best = steps.stream().mapToDouble(OrtSessionBenchmark::median).min().orElseThrow();
        for (int i = 0; i < calls.size(); i++) {
            OrtSessionFactory.Tuning t = tunings.get(i);
            System.out.printf(Locale.ROOT, "step threads=%d spinning=%-5s memoryPattern=%-5s arena=%-5s  median %7.2f ms (%.2fx best)"
                    + "  conditioning upload %.3f ms%n", t.intraOpThreads(), t.spinning(), t.memoryPattern(), t.arena(),
                    median(steps.get(i)), median(steps.get(i)) / best, median(hostCopies.get(i)));
        }
        for (AutoCloseable c : owned) {
            c.close();
        }
    }

    private static double time(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return (System.nanoTime() - t0) / 1e6;
    }

    private static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }
}
