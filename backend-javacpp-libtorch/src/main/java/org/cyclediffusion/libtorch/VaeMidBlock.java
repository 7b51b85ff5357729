package org.cyclediffusion.libtorch;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;

/** diffusers' {@code UNetMidBlock2D} as the VAE uses it: resnet, self-attention, resnet, at the lowest resolution. */
final class VaeMidBlock {
    private final ResnetBlock2D first;
    private final VaeAttentionBlock attention;
    private final ResnetBlock2D second;

    VaeMidBlock(TorchWeights w, String prefix, int channels, int groups, double eps, Activation activation) {
        first = new ResnetBlock2D(w, prefix + ".resnets.0", channels, channels, groups, eps, activation);
        attention = new VaeAttentionBlock(w, prefix + ".attentions.0", groups, eps);
        second = new ResnetBlock2D(w, prefix + ".resnets.1", channels, channels, groups, eps, activation);
    }

    static void expect(Map<String, long[]> s, String prefix, int channels) {
        ResnetBlock2D.expect(s, prefix + ".resnets.0", channels, channels);
        VaeAttentionBlock.expect(s, prefix + ".attentions.0", channels);
        ResnetBlock2D.expect(s, prefix + ".resnets.1", channels, channels);
    }

    Tensor forward(Tensor x) {
        return second.forward(attention.forward(first.forward(x)));
    }
}
