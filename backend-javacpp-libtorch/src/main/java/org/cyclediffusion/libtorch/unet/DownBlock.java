package org.cyclediffusion.libtorch.unet;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.Downsample2D;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ResnetBlock2D;

/**
 * diffusers' {@code CrossAttnDownBlock2D} (with attentions) and {@code DownBlock2D} (without):
 * {@code layers} × (resnet, then the transformer when there is one), then an optional
 * {@link Downsample2D}. Every layer's output and the downsampled output are kept as skip
 * connections for the up path.
 */
final class DownBlock {
    private final List<ResnetBlock2D> resnets;
    private final List<Transformer2DModel> attentions;
    private final Downsample2D downsampler;

    private DownBlock(List<ResnetBlock2D> resnets, List<Transformer2DModel> attentions, Downsample2D downsampler) {
        this.resnets = resnets;
        this.attentions = attentions;
        this.downsampler = downsampler;
    }

    /** Block {@code index} of {@code config}'s down path, from {@code in} channels to {@code block_out_channels[index]}. */
    static DownBlock create(ParameterSource p, UNetConfig config, int index, int in) {
        String prefix = "down_blocks." + index;
        int out = config.blockOutChannels()[index];
        boolean crossAttention = config.downBlocks().get(index).hasCrossAttention();
        List<ResnetBlock2D> resnets = new ArrayList<>();
        List<Transformer2DModel> attentions = new ArrayList<>();
        for (int i = 0; i < config.layersPerBlock()[index]; i++) {
            resnets.add(ResnetBlock2D.create(p, prefix + ".resnets." + i, i == 0 ? in : out, out, config.timeEmbedDim(),
                    config.normNumGroups(), config.normEps(), 1.0, Activation.SILU));
            if (crossAttention) {
                attentions.add(Transformer2DModel.create(p, prefix + ".attentions." + i, out, config.heads()[index],
                        config.transformerLayersPerBlock()[index], config.crossAttentionDim()[index], config.normNumGroups(),
                        config.useLinearProjection()));
            }
        }
        boolean last = index == config.numBlocks() - 1;
        Downsample2D down = last ? null : Downsample2D.create(p, prefix + ".downsamplers.0", out, config.downsamplePadding());
        return new DownBlock(List.copyOf(resnets), List.copyOf(attentions), down);
    }

    boolean hasCrossAttention() {
        return !attentions.isEmpty();
    }

    /** Appends every skip connection to {@code skips} and returns the block's output (the last of them). */
    void setAttentionSlicing(AttentionSlicing slicing) {
        attentions.forEach(a -> a.setAttentionSlicing(slicing));
    }

    Tensor forward(Tensor x, Tensor tembAct, Tensor encoderHiddenStates, List<Tensor> skips) {
        Tensor h = x;
        for (int i = 0; i < resnets.size(); i++) {
            h = resnets.get(i).forward(h, tembAct);
            if (hasCrossAttention()) {
                h = attentions.get(i).forward(h, encoderHiddenStates);
            }
            skips.add(h);
        }
        if (downsampler != null) {
            h = downsampler.forward(h);
            skips.add(h);
        }
        return h;
    }
}
