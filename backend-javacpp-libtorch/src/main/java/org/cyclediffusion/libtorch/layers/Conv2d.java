package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * {@code torch.nn.Conv2d}: square kernel, stride, zero padding, dilation 1, one group, optional bias.
 *
 * <p>On the CPU in float32 small outputs bypass {@code conv2d}'s own choice of kernel, because that
 * choice is slow for them at one thread (README, "LibTorch on the CPU"): they run as im2col and one
 * GEMM over the whole batch, the weight used in place: at most {@value #SMALL_OUTPUT_PIXELS} pixels per
 * image (SD's 4×4 UNet level of a 256² edit, and the stride-2 convolution into it), and at most
 * {@value #MEDIUM_OUTPUT_PIXELS} (the 8×8 level) where the weight is over 32 MiB. oneDNN reorders the plain
 * weight into its blocked layout on every call, into a fresh buffer; above glibc's 32 MiB mmap ceiling that
 * buffer is mapped and faulted in page by page each time (20 ms of kernel time for a 1280² 3×3 weight), and
 * its direct kernels, which block over the output width, reach ~50 GFLOP/s at 4×4 against ~180 at 16×16.
 * The GEMM runs 1.1× (8×8) to 2× (4×4) faster there.
 *
 * <p>1×1 kernels stay with {@code conv2d} (at one thread and a batch below 16: {@code slow_conv2d}, a BLAS
 * GEMM per image, as torch computes them for diffusers). oneDNN's 1×1 kernel was 1.1–1.3× faster but
 * rounds 3× more (3.3e-6 against 9.8e-7 at 320 → 640 channels); through a 50-step edit that moved the
 * v04 golden's safety-checker cosines from 4.7e-5 to 1.08e-4 of diffusers', past their 1e-4 bound.
 *
 * The GEMM computes the same sums in another order: equal to {@code conv2d} within float32 rounding
 * ({@code Conv2dRoutesTest}).
 *
 * <p>A bfloat16 3×3 stride-1 convolution on the CPU takes its input in channels-last. In NCHW
 * oneDNN 3.7.1 runs it through its direct kernel ({@code jit_bf16:avx512_core_bf16}), and on AVX-512
 * CPUs without AMX that kernel's result depended on what ran before it: the same [2, 4, 7, 10]
 * convolution was off by 1.69 (bf16's own rounding is ~0.01) after a sequence of other convolutions
 * and exact on its own, and the tiny UNet's case 4 came out at max |Δ| 0.44 from the float32 golden
 * (bound 0.097; issue 8), 0.017 with {@code ONEDNN_MAX_CPU_ISA=AVX2}. Computing those convolutions in
 * float32 brought it to 0.017, and so does the NHWC kernel (0.021); converting only the few-channel
 * inputs did not, nor did the stride-2 and 1×1 ones. Cost, full-size SD 1.5 in bf16 at 256² on that
 * CPU: step 1.02×, VAE encode 1.36×, decode 1.22× (two layout copies per convolution).
 *
 * <p>Off by default, on with {@value #ROUTES_PROPERTY}{@code =true}: float32 is the mode that must match
 * diffusers, and another summation order moves which decoded pixels fall on the other side of an 8-bit
 * rounding boundary. With the route, the v04 golden's safety-checker cosines were 9.7e-5 of diffusers'
 * with oneDNN limited to AVX2 (bound 1e-4; 5.9e-5 without), too little margin for cases not yet seen.
 * The fast default is {@code --dtype auto} (bf16 where the CPU has it), not a reordered float32.
 */
public final class Conv2d {
    /** Set to {@code true} to run small outputs as im2col + one GEMM (off: every convolution through {@code conv2d}). */
    public static final String ROUTES_PROPERTY = "cyclediffusion.libtorch.convRoutes";
    static final long SMALL_OUTPUT_PIXELS = 16;
    static final long MEDIUM_OUTPUT_PIXELS = 64;
    /** glibc's largest mmap threshold: a fresh buffer above it is mapped, and faulted in page by page, on every call. */
    static final long REORDER_MAPPED_BYTES = 32L << 20;
    private static final long[] NO_DILATION = {1, 1};
    private final Tensor weight;
    private final Tensor bias;
    private final int kernel;
    private final long[] stride;
    private final long[] padding;
    private final boolean routes;

    private Conv2d(Tensor weight, Tensor bias, int kernel, int stride, int padding, boolean routes) {
        this.weight = weight;
        this.bias = bias;
        this.kernel = kernel;
        this.stride = new long[] {stride, stride};
        this.padding = new long[] {padding, padding};
        this.routes = routes;
    }

    /** {@code weight [out, in, kernel, kernel]} and {@code bias [out]}. */
    public static Conv2d create(ParameterSource p, String prefix, int in, int out, int kernel, int stride, int padding) {
        return create(p, prefix, in, out, kernel, stride, padding, true);
    }

    public static Conv2d create(ParameterSource p, String prefix, int in, int out, int kernel, int stride, int padding, boolean bias) {
        Tensor w = p.take(prefix + ".weight", out, in, kernel, kernel);
        Tensor b = bias ? p.take(prefix + ".bias", out) : null;
        boolean routes = Boolean.getBoolean(ROUTES_PROPERTY) && torch.hasMKLDNN();
        return new Conv2d(w, b, kernel, stride, padding, routes);
    }

    public Tensor forward(Tensor x) {
        // scalar_type() hands out a new Java object each call: intern() makes == compare the type
        if (routes && x.dim() == 4 && x.is_cpu() && x.scalar_type().intern() == torch.ScalarType.Float
                && weight.scalar_type().intern() == torch.ScalarType.Float) {
            long outH = (x.size(2) + 2 * padding[0] - kernel) / stride[0] + 1;
            long outW = (x.size(3) + 2 * padding[1] - kernel) / stride[1] + 1;
            long pixels = outH * outW;
            if (pixels <= SMALL_OUTPUT_PIXELS || pixels <= MEDIUM_OUTPUT_PIXELS && weight.nbytes() > REORDER_MAPPED_BYTES) {
                return im2colGemm(x, outH, outW);
            }
        }
        if (kernel == 3 && stride[0] == 1 && x.dim() == 4 && x.is_cpu() && x.scalar_type().intern() == torch.ScalarType.BFloat16) {
            // see the class comment: the channels-last source takes oneDNN's NHWC kernel
            Tensor nhwc = x.contiguous(torch.MemoryFormat.ChannelsLast);
            return torch.conv2d(nhwc, weight, optionalBias(), stride, padding, NO_DILATION, 1).contiguous();
        }
        return torch.conv2d(x, weight, optionalBias(), stride, padding, NO_DILATION, 1);
    }

    /**
     * {@code [out, in·k·k] × [in·k·k, batch·pixels]}: the batch folded into the GEMM's columns so the
     * weight is read once per call, not once per image.
     */
    private Tensor im2colGemm(Tensor x, long outH, long outW) {
        long batch = x.size(0);
        long out = weight.size(0);
        long k = weight.size(1) * kernel * kernel;
        Tensor cols = torch.im2col(x, new long[] {kernel, kernel}, NO_DILATION, padding, stride); // [batch, k, pixels]
        Tensor colsByPixel = cols.permute(1, 0, 2).reshape(k, batch * outH * outW);
        Tensor w = weight.reshape(out, k);
        Tensor y = bias == null ? torch.mm(w, colsByPixel) : torch.addmm(bias.view(out, 1), w, colsByPixel);
        return y.view(out, batch, outH, outW).permute(1, 0, 2, 3).contiguous();
    }

    /** The weight, then the bias if there is one (for tests that rebuild the layer on the same tensors). */
    java.util.List<Tensor> parameters() {
        return bias == null ? java.util.List.of(weight) : java.util.List.of(weight, bias);
    }

    private TensorOptional optionalBias() {
        return bias == null ? new TensorOptional() : new TensorOptional(bias);
    }
}
