package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ResnetBlock2D;

/**
 * diffusers' {@code UNetMidBlock2DCrossAttn} with one layer: resnet, transformer, resnet, at the
 * deepest channel count; the resnets divide by {@code mid_block_scale_factor}.
 */
final class MidBlock2DCrossAttn {
    private final ResnetBlock2D resnet0;
    private final Transformer2DModel attention;
    private final ResnetBlock2D resnet1;

    private MidBlock2DCrossAttn(ResnetBlock2D resnet0, Transformer2DModel attention, ResnetBlock2D resnet1) {
        this.resnet0 = resnet0;
        this.attention = attention;
        this.resnet1 = resnet1;
    }

    static MidBlock2DCrossAttn create(ParameterSource p, UNetConfig config) {
        int last = config.numBlocks() - 1;
        int channels = config.blockOutChannels()[last];
        ResnetBlock2D r0 = ResnetBlock2D.create(p, "mid_block.resnets.0", channels, channels, config.timeEmbedDim(),
                config.normNumGroups(), config.normEps(), config.midBlockScaleFactor(), Activation.SILU);
        Transformer2DModel attn = Transformer2DModel.create(p, "mid_block.attentions.0", channels, config.heads()[last],
                config.transformerLayersPerBlock()[last], config.crossAttentionDim()[last], config.normNumGroups(),
                config.useLinearProjection());
        ResnetBlock2D r1 = ResnetBlock2D.create(p, "mid_block.resnets.1", channels, channels, config.timeEmbedDim(),
                config.normNumGroups(), config.normEps(), config.midBlockScaleFactor(), Activation.SILU);
        return new MidBlock2DCrossAttn(r0, attn, r1);
    }

    void setAttentionSlicing(AttentionSlicing slicing) {
        attention.setAttentionSlicing(slicing);
    }

    Tensor forward(Tensor x, Tensor tembAct, Tensor encoderHiddenStates) {
        Tensor h = resnet0.forward(x, tembAct);
        h = attention.forward(h, encoderHiddenStates);
        return resnet1.forward(h, tembAct);
    }
}
