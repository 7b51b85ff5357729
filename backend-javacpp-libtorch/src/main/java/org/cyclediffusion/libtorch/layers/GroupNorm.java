package org.cyclediffusion.libtorch.layers;

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
 * float16 (11 significant bits, 8× finer, the CUDA default) keeps torch's two roundings.
 */
public final class GroupNorm {
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
            return activation.apply(forward(x));
        }
        // the affine parameters are upcast per call: a few hundred values, against H·W·C activations
        Tensor y = torch.group_norm(x.to(ScalarType.Float), groups, new TensorOptional(weight.to(ScalarType.Float)),
                new TensorOptional(bias.to(ScalarType.Float)), eps, true);
        return activation.apply(y).to(type);
    }
}
