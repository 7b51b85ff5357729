package org.cyclediffusion.libtorch.unet;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.libtorch.RandomWeights;
import org.cyclediffusion.libtorch.TorchNatives;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One cycle step of a 256² edit with guidance at full size: SD 1.5's UNet (random weights,
 * {@link RandomWeights}), batch 4, 32×32 latents, 77 text tokens, the thread count LibTorch was given
 * ({@code OMP_NUM_THREADS}; Surefire sets 1). Prints each forward's time and the median; asserts
 * nothing about time (a benchmark, not a test). Opt-in:
 * <pre>
 *   mvn -B -o -q -pl backend-javacpp-libtorch -am test -Dtest=UNetStepBenchmark \
 *       -Dsurefire.failIfNoSpecifiedTests=false -Dcyclediffusion.bench.unet=true [-Dcyclediffusion.bench.runs=3] \
 *       [-Dcyclediffusion.bench.dtype=fp32|bf16|fp16]
 * </pre>
 * {@code -Dcyclediffusion.bench.ops=true} with {@code -Dtest='UNetStepBenchmark#stepByOpType+opsAtSd15Shapes'} splits a
 * step by op type and times each op against its alternatives (BLAS against oneDNN linear, strided against
 * contiguous attention inputs, NCHW against channels-last).
 * On a shared machine compare builds by running them alternately and reading the ratios.
 */
class UNetStepBenchmark {

    @BeforeAll
    static void loadNatives() {
        TorchNatives.load();
    }

    @Test
    void sd15UNetBatch4At32x32() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.bench.unet"),
                "UNet step benchmark skipped: run with -Dcyclediffusion.bench.unet=true (3.4 GB of weights, a minute of CPU)");
        int runs = Integer.getInteger("cyclediffusion.bench.runs", 3);
        JsonConfig config = FullSizeConfigs.config("sd15_unet");
        Map<String, Tensor> weights = RandomWeights.of(UNet2DConditionModel.expectedShapes(config), 0);
        String dtype = System.getProperty("cyclediffusion.bench.dtype", "fp32");
        if (!dtype.equals("fp32")) {
            torch.ScalarType type = dtype.equals("bf16") ? torch.ScalarType.BFloat16 : torch.ScalarType.Half;
            weights.replaceAll((name, t) -> {
                Tensor converted = t.to(type);
                t.close();
                return converted;
            });
        }
        try (UNet2DConditionModel unet = UNet2DConditionModel.build(config, weights)) {
            torch.manual_seed(1);
            Tensor sample = torch.randn(4, 4, 32, 32);
            Tensor text = torch.randn(4, 77, 768);
            double[] seconds = new double[runs];
            double checksum = 0;
            // this thread's CPU time too: with one LibTorch thread the ops run on it, page faults are its kernel
            // time, and on a shared machine it leaves out the time other processes hold the core
            java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
            for (int i = -1; i < runs; i++) { // one warm-up pass (oneDNN primitive creation, allocator)
                long start = System.nanoTime();
                long cpuStart = cpu.getCurrentThreadCpuTime();
                long userStart = cpu.getCurrentThreadUserTime();
                try (Tensor out = unet.forward(sample, 500, text)) {
                    if (i == runs - 1) {
                        checksum = out.abs().sum().item_double();
                    }
                }
                double s = (System.nanoTime() - start) / 1e9;
                double cpuSeconds = (cpu.getCurrentThreadCpuTime() - cpuStart) / 1e9;
                double kernelSeconds = cpuSeconds - (cpu.getCurrentThreadUserTime() - userStart) / 1e9;
                if (i >= 0) {
                    seconds[i] = s;
                }
                System.out.printf(Locale.ROOT, "sd15 UNet [4,4,32,32] forward %s: %.2f s (CPU %.2f s, of which kernel %.2f s)%n",
                        i < 0 ? "warm-up" : "#" + (i + 1), s, cpuSeconds, kernelSeconds);
            }
            double[] sorted = seconds.clone();
            Arrays.sort(sorted);
            System.out.printf(Locale.ROOT, "sd15 UNet [4,4,32,32] %s median %.2f s over %d runs, %d threads, sum|out| %.6g%n",
                    dtype, sorted[runs / 2], runs, torch.get_num_threads(), checksum);
            sample.close();
            text.close();
        } finally {
            RandomWeights.closeAll(weights);
        }
    }

    private static UNet2DConditionModel buildWith(String property, String value, JsonConfig config, Map<String, Tensor> weights) {
        String before = System.getProperty(property);
        System.setProperty(property, value);
        try {
            return UNet2DConditionModel.build(config, weights);
        } finally {
            if (before == null) {
                System.clearProperty(property);
            } else {
                System.setProperty(property, before);
            }
        }
    }

    /**
     * A switch's effect on a full step, alternated in one process: two UNets on the same weights, one
     * built with the system property {@code cyclediffusion.bench.abOff} names set to {@code true}, one to {@code false}, run
     * A, B, A, B... Prints each pair's ratio and the median ratio (B's time over A's).
     * <pre>
     *   mvn ... -Dtest=UNetStepBenchmark#switchAlternated -Dcyclediffusion.bench.abOff=cyclediffusion.libtorch.convRoutes [-Dcyclediffusion.bench.runs=5]
     * </pre>
     */
    @Test
    void switchAlternated() {
        String property = System.getProperty("cyclediffusion.bench.abOff");
        Assumptions.assumeTrue(property != null, "A/B benchmark skipped: name the switch with -Dcyclediffusion.bench.abOff=<property>");
        int runs = Integer.getInteger("cyclediffusion.bench.runs", 5);
        JsonConfig config = FullSizeConfigs.config("sd15_unet");
        Map<String, Tensor> weights = RandomWeights.of(UNet2DConditionModel.expectedShapes(config), 0);
        UNet2DConditionModel off = buildWith(property, "false", config, weights);
        UNet2DConditionModel onModel = buildWith(property, "true", config, weights);
        try (UNet2DConditionModel on = onModel; off) {
            torch.manual_seed(1);
            Tensor sample = torch.randn(4, 4, 32, 32);
            Tensor text = torch.randn(4, 77, 768);
            // this thread's CPU time: with one LibTorch thread the ops run inline on it, and on a shared
            // machine it leaves out the time other processes hold the core (wall time is printed too)
            java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
            double[] ratios = new double[runs];
            for (int i = -1; i < runs; i++) { // one warm-up pair
                double[] s = new double[2];
                double[] wall = new double[2];
                double[] sums = new double[2];
                double[] user = new double[2];
                UNet2DConditionModel[] models = {on, off};
                for (int m = 0; m < 2; m++) {
                    long start = System.nanoTime();
                    long cpuStart = cpu.getCurrentThreadCpuTime();
                    long userStart = cpu.getCurrentThreadUserTime();
                    try (Tensor out = models[m].forward(sample, 500, text)) {
                        s[m] = (cpu.getCurrentThreadCpuTime() - cpuStart) / 1e9;
                        user[m] = (cpu.getCurrentThreadUserTime() - userStart) / 1e9;
                        wall[m] = (System.nanoTime() - start) / 1e9;
                        sums[m] = out.abs().sum().item_double();
                    }
                }
                if (i >= 0) {
                    ratios[i] = s[1] / s[0];
                }
                System.out.printf(Locale.ROOT, "%s: CPU on %.2f s, off %.2f s, off/on %.3f (of which in the kernel %.2f s, %.2f s; wall %.2f s, %.2f s), sum|out| %.7g vs %.7g%n",
                        i < 0 ? "warm-up" : "#" + (i + 1), s[0], s[1], s[1] / s[0], s[0] - user[0], s[1] - user[1], wall[0], wall[1], sums[0],
                        sums[1]);
            }
            double[] sorted = ratios.clone();
            Arrays.sort(sorted);
            System.out.printf(Locale.ROOT, "%s: median step CPU time off/on %.3f over %d alternated pairs (min %.3f, max %.3f), %d threads%n",
                    property, sorted[runs / 2], runs, sorted[0], sorted[runs - 1], torch.get_num_threads());
            sample.close();
            text.close();
        } finally {
            RandomWeights.closeAll(weights);
        }
    }

    /** Accuracy of the half types at full size: the SD 1.5 UNet at 8×8 against the float64 reference of {@link UNetFullSizeReferenceTest}. */
    @Test
    void halfTypesAgainstTheFloat64Reference() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.bench.kernels"),
                "accuracy benchmark skipped: run with -Dcyclediffusion.bench.kernels=true");
        float[] reference = UNetFullSizeReferenceTest.readReference();
        for (torch.ScalarType t : new torch.ScalarType[] {torch.ScalarType.Float, torch.ScalarType.BFloat16, torch.ScalarType.Half}) {
            long start = System.nanoTime();
            double[] d = org.cyclediffusion.core.testing.TensorAssert.diffStats(UNetFullSizeReferenceTest.forward(t).data(), reference);
            System.out.printf(Locale.ROOT, "sd15 UNet [1,4,8,8] %-8s vs float64: max |d| %.3g, mean |d| %.3g (%.1f s with weights)%n", t, d[0],
                    d[1], (System.nanoTime() - start) / 1e9);
        }
    }

    /** The kernels behind the UNet's big layers, NCHW against channels-last and 1×1 conv against linear. */
    @Test
    void kernels() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.bench.kernels"),
                "kernel benchmark skipped: run with -Dcyclediffusion.bench.kernels=true");
        try (PointerScope scope = new PointerScope(); InferenceMode mode = new InferenceMode()) {
            torch.manual_seed(0);
            for (long[] s : new long[][] {{4, 320, 32}, {4, 640, 16}, {4, 1280, 8}}) {
                long b = s[0];
                long c = s[1];
                long hw = s[2];
                Tensor x = torch.randn(b, c, hw, hw);
                Tensor w3 = torch.randn(c, c, 3, 3).mul(new org.bytedeco.pytorch.Scalar(0.01));
                Tensor w1 = torch.randn(c, c, 1, 1).mul(new org.bytedeco.pytorch.Scalar(0.01));
                Tensor bias = torch.randn(c);
                Tensor xl = x.contiguous(torch.MemoryFormat.ChannelsLast);
                Tensor w3l = w3.contiguous(torch.MemoryFormat.ChannelsLast);
                time("conv3x3 NCHW      " + Arrays.toString(s), () -> torch.conv2d(x, w3, new org.bytedeco.pytorch.TensorOptional(bias),
                        new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, 1));
                time("conv3x3 NHWC      " + Arrays.toString(s), () -> torch.conv2d(xl, w3l, new org.bytedeco.pytorch.TensorOptional(bias),
                        new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, 1));
                Tensor packed = torch.mkldnn_reorder_conv2d_weight(w3.to_mkldnn(), new long[] {1, 1}, new long[] {1, 1},
                        new long[] {1, 1}, 1, x.sizes().vec().get());
                time("conv3x3 prepacked " + Arrays.toString(s), () -> torch.mkldnn_convolution(x, packed,
                        new org.bytedeco.pytorch.TensorOptional(bias), new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, 1));
                Tensor ref = torch.conv2d(x, w3, new org.bytedeco.pytorch.TensorOptional(bias), new long[] {1, 1}, new long[] {1, 1},
                        new long[] {1, 1}, 1);
                Tensor got = torch.mkldnn_convolution(x, packed, new org.bytedeco.pytorch.TensorOptional(bias), new long[] {1, 1},
                        new long[] {1, 1}, new long[] {1, 1}, 1);
                System.out.printf(Locale.ROOT, "prepacked max |d| %.3g, dense output %s%n", got.sub(ref).abs().max().item_double(),
                        got.is_mkldnn() ? "no (mkldnn)" : "yes");
                time("conv1x1 NCHW      " + Arrays.toString(s), () -> torch.conv2d(x, w1, new org.bytedeco.pytorch.TensorOptional(bias),
                        new long[] {1, 1}, new long[] {0, 0}, new long[] {1, 1}, 1));
                Tensor w1l = w1.contiguous(torch.MemoryFormat.ChannelsLast);
                time("conv1x1 NHWC      " + Arrays.toString(s), () -> torch.conv2d(xl, w1l, new org.bytedeco.pytorch.TensorOptional(bias),
                        new long[] {1, 1}, new long[] {0, 0}, new long[] {1, 1}, 1));
                Tensor w2 = w1.view(c, c);
                time("1x1 as linear NHWC" + Arrays.toString(s), () -> torch.linear(xl.permute(0, 2, 3, 1), w2,
                        new org.bytedeco.pytorch.TensorOptional(bias)).permute(0, 3, 1, 2));
                time("group_norm NCHW   " + Arrays.toString(s), () -> torch.group_norm(x, 32, new org.bytedeco.pytorch.TensorOptional(bias),
                        new org.bytedeco.pytorch.TensorOptional(bias), 1e-5, true));
                time("group_norm NHWC   " + Arrays.toString(s), () -> torch.group_norm(xl, 32, new org.bytedeco.pytorch.TensorOptional(bias),
                        new org.bytedeco.pytorch.TensorOptional(bias), 1e-5, true));
            }
        }
    }

    /** The same conv and GEMM in float32, bfloat16 and float16 (AMX / AVX512-FP16 make the half types fast where present). */
    @Test
    void dtypes() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.bench.kernels"),
                "kernel benchmark skipped: run with -Dcyclediffusion.bench.kernels=true");
        try (PointerScope scope = new PointerScope(); InferenceMode mode = new InferenceMode()) {
            torch.manual_seed(0);
            Tensor x = torch.randn(4, 320, 32, 32);
            Tensor w = torch.randn(320, 320, 3, 3).mul(new org.bytedeco.pytorch.Scalar(0.02));
            Tensor a = torch.randn(4 * 1024, 320);
            Tensor m = torch.randn(1280, 320).mul(new org.bytedeco.pytorch.Scalar(0.05));
            Tensor ref = torch.conv2d(x, w, new org.bytedeco.pytorch.TensorOptional(), new long[] {1, 1}, new long[] {1, 1},
                    new long[] {1, 1}, 1);
            for (torch.ScalarType t : new torch.ScalarType[] {torch.ScalarType.Float, torch.ScalarType.BFloat16, torch.ScalarType.Half}) {
                Tensor xt = x.to(t);
                Tensor wt = w.to(t);
                Tensor at = a.to(t);
                Tensor mt = m.to(t);
                Tensor out = torch.conv2d(xt, wt, new org.bytedeco.pytorch.TensorOptional(), new long[] {1, 1}, new long[] {1, 1},
                        new long[] {1, 1}, 1);
                double err = out.to(torch.ScalarType.Float).sub(ref).abs().max().item_double();
                time(String.format(Locale.ROOT, "conv3x3 [4,320,32,32] %-8s (max |d| vs fp32 %.2g)", t, err), () -> torch.conv2d(xt, wt,
                        new org.bytedeco.pytorch.TensorOptional(), new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, 1));
                time(String.format(Locale.ROOT, "linear [4096,320]x[320,1280] %-8s", t), () -> torch.linear(at, mt));
            }
        }
    }

    /**
     * The UNet's op types at SD 1.5's shapes (batch 4, 32×32 latents: 1024 tokens of 320 channels), each
     * through LibTorch's default route and the alternatives, interleaved in one run so the ratios hold on a
     * loaded machine. OpenBLAS's core type cannot change in a running process: compare runs with
     * {@code OPENBLAS_CORETYPE} set differently (the value in effect is printed).
     */
    @Test
    void opsAtSd15Shapes() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.bench.ops"),
                "op benchmark skipped: run with -Dcyclediffusion.bench.ops=true");
        System.out.println("OPENBLAS_CORETYPE=" + System.getenv("OPENBLAS_CORETYPE") + ", threads " + torch.get_num_threads());
        try (PointerScope scope = new PointerScope(); InferenceMode mode = new InferenceMode()) {
            torch.manual_seed(0);
            org.bytedeco.pytorch.Scalar small = new org.bytedeco.pytorch.Scalar(0.05);
            for (long[] s : new long[][] {{4096, 320, 320}, {4096, 320, 2560}, {4096, 1280, 320}, {308, 768, 320}, {1024, 640, 640},
                    {256, 1280, 1280}}) {
                Tensor a = torch.randn(s[0], s[1]);
                Tensor w = torch.randn(s[2], s[1]).mul(small);
                Tensor b = torch.randn(s[2]);
                String shape = "[" + s[0] + "," + s[1] + "]x[" + s[1] + "," + s[2] + "]";
                Tensor ref = torch.linear(a, w, new org.bytedeco.pytorch.TensorOptional(b));
                Tensor dnn = torch.mkldnn_linear(a.to_mkldnn(), w, new org.bytedeco.pytorch.TensorOptional(b)).to_dense();
                System.out.printf(Locale.ROOT, "linear %s oneDNN max |d| vs BLAS %.3g (|ref| max %.3g)%n", shape,
                        dnn.sub(ref).abs().max().item_double(), ref.abs().max().item_double());
                for (int round = 0; round < 2; round++) {
                    time("linear BLAS   " + shape, () -> torch.linear(a, w, new org.bytedeco.pytorch.TensorOptional(b)));
                    time("linear oneDNN " + shape, () -> torch.mkldnn_linear(a.to_mkldnn(), w,
                            new org.bytedeco.pytorch.TensorOptional(b)).to_dense());
                }
            }
            // attention at the first transformer level: 8 heads of 40 channels over 1024 tokens
            Tensor qkv = torch.randn(4, 1024, 320);
            Tensor q = qkv.view(4, -1, 8, 40).transpose(1, 2);
            Tensor qc = q.contiguous();
            Tensor ctx = torch.randn(4, 77, 320).view(4, -1, 8, 40).transpose(1, 2);
            for (int round = 0; round < 2; round++) {
                time("sdpa self  [4,8,1024,40] strided   ", () -> torch.scaled_dot_product_attention(q, q, q));
                time("sdpa self  [4,8,1024,40] contiguous", () -> torch.scaled_dot_product_attention(qc, qc, qc));
                time("bmm+softmax+bmm [32,1024,40]       ", () -> {
                    Tensor q3 = qc.reshape(32, 1024, 40);
                    Tensor p = torch.softmax(torch.bmm(q3, q3.transpose(1, 2)).mul(new org.bytedeco.pytorch.Scalar(0.158)), -1);
                    return torch.bmm(p, q3);
                });
                time("sdpa cross [4,8,1024,40]x77        ", () -> torch.scaled_dot_product_attention(q, ctx, ctx));
            }
            Tensor x = torch.randn(4, 320, 32, 32);
            Tensor w3 = torch.randn(320, 320, 3, 3).mul(new org.bytedeco.pytorch.Scalar(0.01));
            Tensor xl = x.contiguous(torch.MemoryFormat.ChannelsLast);
            Tensor w3l = w3.contiguous(torch.MemoryFormat.ChannelsLast);
            Tensor g = torch.ones(320);
            Tensor tokens = torch.randn(4, 1024, 320);
            for (int round = 0; round < 2; round++) {
                time("conv3x3 NCHW [4,320,32,32]    ", () -> torch.conv2d(x, w3, new org.bytedeco.pytorch.TensorOptional(g),
                        new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, 1));
                time("conv3x3 NHWC [4,320,32,32]    ", () -> torch.conv2d(xl, w3l, new org.bytedeco.pytorch.TensorOptional(g),
                        new long[] {1, 1}, new long[] {1, 1}, new long[] {1, 1}, 1));
                time("group_norm [4,320,32,32]      ", () -> torch.group_norm(x, 32, new org.bytedeco.pytorch.TensorOptional(g),
                        new org.bytedeco.pytorch.TensorOptional(g), 1e-5, true));
                time("layer_norm [4,1024,320]       ", () -> torch.layer_norm(tokens, new long[] {320},
                        new org.bytedeco.pytorch.TensorOptional(g), new org.bytedeco.pytorch.TensorOptional(g), 1e-5, true));
                time("silu [4,320,32,32]            ", () -> torch.silu(x));
                time("gelu [4,1024,1280]            ", () -> torch.gelu(torch.randn(4, 1024, 1280)));
                time("randn [4,1024,1280] (for gelu)", () -> torch.randn(4, 1024, 1280));
                time("add [4,320,32,32]             ", () -> x.add(x));
            }
        }
    }

    /**
     * Where a step's time goes: every conv, linear, attention and norm of SD 1.5's UNet (from its parameter
     * list) at the shape it runs at in a batch-4, 32×32 step, each timed alone and summed by op type.
     * What the sum leaves out (SiLU, residual adds, concatenations, upsampling, copies) is the difference
     * to {@link #sd15UNetBatch4At32x32} measured in the same run.
     */
    @Test
    void stepByOpType() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.bench.ops"),
                "op benchmark skipped: run with -Dcyclediffusion.bench.ops=true");
        Map<String, long[]> shapes = UNet2DConditionModel.expectedShapes(FullSizeConfigs.config("sd15_unet"));
        Map<String, Double> msByKind = new java.util.TreeMap<>();
        Map<String, Double> cache = new java.util.HashMap<>();
        try (PointerScope scope = new PointerScope(); InferenceMode mode = new InferenceMode()) {
            torch.manual_seed(0);
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                String name = e.getKey();
                long[] w = e.getValue();
                if (!name.endsWith(".weight")) {
                    continue;
                }
                long res = resolution(name);
                String key;
                java.util.function.Supplier<java.util.function.Supplier<Tensor>> op; // makes the inputs once, then the timed call
                if (w.length == 4) {
                    long stride = name.contains("downsamplers") ? 2 : 1;
                    long pad = w[2] / 2;
                    key = "conv " + Arrays.toString(w) + " @" + res + "/" + stride;
                    op = () -> {
                        Tensor x = torch.randn(4, w[1], res, res);
                        Tensor wt = torch.randn(w).mul(new org.bytedeco.pytorch.Scalar(0.01));
                        return () -> torch.conv2d(x, wt, new org.bytedeco.pytorch.TensorOptional(), new long[] {stride, stride},
                                new long[] {pad, pad}, new long[] {1, 1}, 1);
                    };
                } else if (w.length == 2) {
                    long rows = name.contains("time_emb") ? 4 : name.contains("attn2.to_k") || name.contains("attn2.to_v") ? 4 * 77
                            : 4 * res * res;
                    key = "linear [" + rows + "," + w[1] + "]x" + Arrays.toString(w);
                    op = () -> {
                        Tensor x = torch.randn(rows, w[1]);
                        Tensor wt = torch.randn(w).mul(new org.bytedeco.pytorch.Scalar(0.05));
                        return () -> torch.linear(x, wt);
                    };
                } else if (name.contains("transformer_blocks") && name.matches(".*\\.norm[123]\\.weight")) {
                    key = "layer_norm [4," + res * res + "," + w[0] + "]";
                    op = () -> {
                        Tensor x = torch.randn(4, res * res, w[0]);
                        return () -> torch.layer_norm(x, new long[] {w[0]}, new org.bytedeco.pytorch.TensorOptional(),
                                new org.bytedeco.pytorch.TensorOptional(), 1e-5, true);
                    };
                } else if (name.contains("norm")) {
                    key = "group_norm [4," + w[0] + "," + res + "," + res + "]";
                    op = () -> {
                        Tensor x = torch.randn(4, w[0], res, res);
                        return () -> torch.group_norm(x, 32, new org.bytedeco.pytorch.TensorOptional(),
                                new org.bytedeco.pytorch.TensorOptional(), 1e-5, true);
                    };
                } else {
                    continue;
                }
                double ms = cache.computeIfAbsent(key, k -> timed(op.get()));
                msByKind.merge(key.substring(0, key.indexOf(' ')), ms, Double::sum);
                if (name.endsWith("attn1.to_q.weight") || name.endsWith("attn2.to_q.weight")) {
                    long tokens = res * res;
                    long ctx = name.contains("attn2") ? 77 : tokens;
                    long d = w[0] / 8;
                    String sdpa = "sdpa [4,8," + tokens + "," + d + "]x" + ctx;
                    msByKind.merge("sdpa", cache.computeIfAbsent(sdpa, k -> {
                        Tensor q = torch.randn(4, 8, tokens, d);
                        Tensor kv = torch.randn(4, 8, ctx, d);
                        return timed(() -> torch.scaled_dot_product_attention(q, kv, kv));
                    }), Double::sum);
                }
                if (name.endsWith("ff.net.0.proj.weight")) {
                    Tensor h = torch.randn(4 * res * res, w[0] / 2);
                    msByKind.merge("geglu gelu*gate", cache.computeIfAbsent("geglu " + res, k -> timed(() -> torch.gelu(h).mul(h))),
                            Double::sum);
                }
            }
        }
        double total = msByKind.values().stream().mapToDouble(Double::doubleValue).sum();
        msByKind.forEach((kind, ms) -> System.out.printf(Locale.ROOT, "step by op type: %-16s %8.0f ms (%4.1f%%)%n", kind, ms,
                100 * ms / total));
        System.out.printf(Locale.ROOT, "step by op type: %-16s %8.0f ms (%d distinct shapes)%n", "sum", total, cache.size());
    }

    /**
     * Every convolution of SD 1.5's UNet at the shape it runs at in a batch-4, 32×32 step, through
     * {@link org.cyclediffusion.libtorch.layers.Conv2d} with its routes on and off (same weights), alternated,
     * this thread's CPU time (best of three per shape), summed over the step. Prints each shape and the
     * totals.
     */
    @Test
    void convolutionsByRoute() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.bench.ops"),
                "op benchmark skipped: run with -Dcyclediffusion.bench.ops=true");
        Map<String, long[]> shapes = UNet2DConditionModel.expectedShapes(FullSizeConfigs.config("sd15_unet"));
        Map<String, Integer> count = new java.util.LinkedHashMap<>();
        Map<String, long[]> conv = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] w = e.getValue();
            if (e.getKey().endsWith(".weight") && w.length == 4) {
                long stride = e.getKey().contains("downsamplers") ? 2 : 1;
                String key = Arrays.toString(w) + " @" + resolution(e.getKey()) + "/" + stride;
                conv.put(key, new long[] {w[0], w[1], w[2], resolution(e.getKey()), stride});
                count.merge(key, 1, Integer::sum);
            }
        }
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        double totalOn = 0;
        double totalOff = 0;
        try (InferenceMode mode = new InferenceMode()) {
            torch.manual_seed(0);
            for (Map.Entry<String, long[]> e : conv.entrySet()) {
                try (PointerScope scope = new PointerScope()) {
                    long[] c = e.getValue();
                    Tensor w = torch.randn(c[0], c[1], c[2], c[2]).mul(new org.bytedeco.pytorch.Scalar(0.01));
                    Tensor b = torch.randn(c[0]);
                    org.cyclediffusion.libtorch.layers.ParameterSource p = new org.cyclediffusion.libtorch.layers.ParameterSource("bench") {
                        @Override
                        public Tensor take(String name, long... shape) {
                            return name.endsWith("weight") ? w : b;
                        }
                    };
                    int in = (int) c[1];
                    int out = (int) c[0];
                    int k = (int) c[2];
                    int stride = (int) c[4];
                    System.setProperty(org.cyclediffusion.libtorch.layers.Conv2d.ROUTES_PROPERTY, "true");
                    var on = org.cyclediffusion.libtorch.layers.Conv2d.create(p, "conv", in, out, k, stride, k / 2);
                    System.setProperty(org.cyclediffusion.libtorch.layers.Conv2d.ROUTES_PROPERTY, "false");
                    var off = org.cyclediffusion.libtorch.layers.Conv2d.create(p, "conv", in, out, k, stride, k / 2);
                    System.clearProperty(org.cyclediffusion.libtorch.layers.Conv2d.ROUTES_PROPERTY);
                    Tensor x = torch.randn(4, c[1], c[3], c[3]);
                    double[] best = {Double.MAX_VALUE, Double.MAX_VALUE};
                    for (int round = -1; round < 3; round++) {
                        for (int m = 0; m < 2; m++) {
                            long start = cpu.getCurrentThreadCpuTime();
                            (m == 0 ? on : off).forward(x).close();
                            if (round >= 0) {
                                best[m] = Math.min(best[m], (cpu.getCurrentThreadCpuTime() - start) / 1e6);
                            }
                        }
                    }
                    int n = count.get(e.getKey());
                    totalOn += n * best[0];
                    totalOff += n * best[1];
                    System.out.printf(Locale.ROOT, "conv %-28s x%2d routes on %7.2f ms, off %7.2f ms, off/on %.2f%n", e.getKey(), n, best[0], best[1],
                            best[1] / best[0]);
                }
            }
        }
        System.out.printf(Locale.ROOT, "convolutions of one step: routes on %.0f ms, off %.0f ms, off/on %.3f%n", totalOn, totalOff, totalOff / totalOn);
    }

    /** Latent side of the level a UNet parameter works at, for a 32×32 latent (SD 1.5: four levels, 32, 16, 8, 4). */
    private static long resolution(String name) {
        String[] parts = name.split("\\.");
        if (parts[0].equals("down_blocks")) {
            return 32 >> Integer.parseInt(parts[1]);
        }
        if (parts[0].equals("up_blocks")) {
            int level = Integer.parseInt(parts[1]);
            return name.contains("upsamplers") ? 8L << level : 4L << level;
        }
        return parts[0].equals("mid_block") ? 4 : 32;
    }

    /** Best of three calls after a warm-up, in ms (the least disturbed by the other processes of a shared machine). */
    private static double timed(java.util.function.Supplier<Tensor> op) {
        op.get().close();
        int n = 3;
        long best = Long.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            long start = System.nanoTime();
            op.get().close();
            best = Math.min(best, System.nanoTime() - start);
        }
        return best / 1e6;
    }

    private static void time(String label, java.util.function.Supplier<Tensor> op) {
        op.get().close();
        int n = 5;
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            op.get().close();
        }
        System.out.printf(Locale.ROOT, "%s %8.2f ms%n", label, (System.nanoTime() - start) / 1e6 / n);
    }
}
