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
            for (int i = -1; i < runs; i++) { // one warm-up pass (oneDNN primitive creation, allocator)
                long start = System.nanoTime();
                try (Tensor out = unet.forward(sample, 500, text)) {
                    if (i == runs - 1) {
                        checksum = out.abs().sum().item_double();
                    }
                }
                double s = (System.nanoTime() - start) / 1e9;
                if (i >= 0) {
                    seconds[i] = s;
                }
                System.out.printf(Locale.ROOT, "sd15 UNet [4,4,32,32] forward %s: %.2f s%n", i < 0 ? "warm-up" : "#" + (i + 1), s);
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
