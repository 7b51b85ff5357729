package org.cyclediffusion.libtorch.layers;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.cyclediffusion.core.config.ConfigException;

/**
 * {@code torch.nn.GroupNorm(num_groups, num_channels, eps, affine=True)}. For bfloat16/float16
 * input LibTorch's CPU kernel accumulates the mean and variance in float32 (its mixed-type path),
 * as torch does under diffusers, and rounds the normalised output to the input's dtype.
 *
 * <p>{@link #forward(Tensor, Activation)} is the norm followed by its activation, the pair every
 * resnet and every {@code conv_norm_out} runs before a convolution. In bfloat16 it is computed in
 * float32 and rounded once, where torch rounds twice (after the norm, after the activation). The
 * normalised values are the largest of the network (|x| up to ~10, where one bfloat16 ulp is 0.06),
 * and that extra rounding, repeated in every resnet, is what took the tiny VAE's decode to
 * max |Δ| 0.123 from the float32 golden with oneDNN's AVX512-BF16 kernels (0.090 with AVX2, 0.089
 * with AMX: the summation order decides how the roundings line up). With one rounding it is
 * 0.071–0.079 under every ISA (a per-op float64 trace: {@code VaeBFloat16Trace} in the tests).
 * float16 (11 significant bits, 8× finer, the CUDA default) keeps torch's two roundings. Cost: the
 * pair takes ~1.4× as long as torch's two bfloat16 ops ([1, 128, 256, 256], one thread), a small
 * part of a resnet next to its two convolutions.
 */
public final class GroupNorm {
    /** float32 bytes of one slice of {@link #forward(Tensor, Activation)} in bfloat16: fits a core's L2. */
    private static final long CHUNK_BYTES = 1L << 20;
    private final Tensor weight;
    private final Tensor bias;
    private final int groups;
    private final double eps;

    private GroupNorm(Tensor weight, Tensor bias, int groups, double eps) {
        this.weight = weight;
        this.bias = bias;
        this.groups = groups;
        this.eps = eps;
    }

    public static GroupNorm create(ParameterSource p, String prefix, int groups, int channels, double eps) {
        if (channels % groups != 0) {
            // torch.nn.GroupNorm refuses this too, when diffusers builds the module
            throw new ConfigException(p.configSource() + ": " + prefix + " normalises " + channels + " channels in " + groups
                    + " groups (norm_num_groups); expected a group count that divides every block's channels");
        }
        Tensor w = p.take(prefix + ".weight", channels);
        Tensor b = p.take(prefix + ".bias", channels);
        return new GroupNorm(w, b, groups, eps);
    }

    public Tensor forward(Tensor x) {
        return torch.group_norm(x, groups, new TensorOptional(weight), new TensorOptional(bias), eps, true);
    }

    /** {@code activation(norm(x))} in x's dtype; for bfloat16 computed in float32 and rounded once (see the class comment). */
    public Tensor forward(Tensor x, Activation activation) {
        ScalarType type = x.scalar_type().intern();
        if (type != ScalarType.BFloat16) {
            // over the norm's own output, which nothing else holds: one full-size buffer fewer, same kernel and bits
            return activation.applyInPlace(forward(x));
        }
        // In slices of whole groups of about CHUNK_BYTES in float32, so the float32 temporaries are
        // small, reused by the allocator and stay in cache: upcasting the whole activation at once
        // made the pair 4.5x slower than torch's two bf16 ops (fresh 100 MB buffers at VAE sizes).
        long n = x.size(0);
        long channels = x.size(1);
        long perGroup = channels / groups;
        long spatial = x.numel() / Math.max(1, n * channels);
        long groupsPerChunk = Math.max(1, CHUNK_BYTES / (4 * n * perGroup * Math.max(1, spatial)));
        Tensor out = torch.empty_like(x);
        for (long g = 0; g < groups; g += groupsPerChunk) {
            long k = Math.min(groupsPerChunk, groups - g);
            try (PointerScope scope = new PointerScope()) {
                Tensor x32 = x.narrow(1, g * perGroup, k * perGroup).to(ScalarType.Float);
                Tensor w = weight.narrow(0, g * perGroup, k * perGroup).to(ScalarType.Float);
                Tensor b = bias.narrow(0, g * perGroup, k * perGroup).to(ScalarType.Float);
                Tensor y = torch.group_norm(x32, k, new TensorOptional(w), new TensorOptional(b), eps, true);
                out.narrow(1, g * perGroup, k * perGroup).copy_(activation.applyInPlace(y));
            }
        }
        return out;
    }
}
