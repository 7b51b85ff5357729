package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.config.ConfigException;

/**
 * {@code torch.nn.GroupNorm(num_groups, num_channels, eps, affine=True)}. For bfloat16/float16
 * input LibTorch's CPU kernel accumulates the mean and variance in float32 (its mixed-type path),
 * as torch does under diffusers.
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
}
