package org.cyclediffusion.libtorch;

import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ResnetBlock2D;
import org.cyclediffusion.libtorch.layers.Scopes;

/** diffusers' {@code UNetMidBlock2D} as the VAE uses it: resnet, self-attention, resnet, at the lowest resolution, no time embedding. */
final class VaeMidBlock {
    private final ResnetBlock2D first;
    private final VaeAttentionBlock attention;
    private final ResnetBlock2D second;

    VaeMidBlock(ParameterSource p, String prefix, int channels, int groups, double eps, Activation activation) {
        first = ResnetBlock2D.create(p, prefix + ".resnets.0", channels, channels, 0, groups, eps, 1.0, activation);
        attention = new VaeAttentionBlock(p, prefix + ".attentions.0", channels, groups, eps);
        second = ResnetBlock2D.create(p, prefix + ".resnets.1", channels, channels, 0, groups, eps, 1.0, activation);
    }

    Tensor forward(Tensor x) {
        // the two intermediate outputs are freed when the block returns
        return Scopes.inChildScope(() -> second.forward(attention.forward(first.forward(x))));
    }
}
