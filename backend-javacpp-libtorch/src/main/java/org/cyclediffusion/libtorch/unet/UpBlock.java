package org.cyclediffusion.libtorch.unet;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ResnetBlock2D;
import org.cyclediffusion.libtorch.layers.Scopes;
import org.cyclediffusion.libtorch.layers.Upsample2D;

/**
 * diffusers' {@code CrossAttnUpBlock2D} (with attentions) and {@code UpBlock2D} (without):
 * {@code layers_per_block + 1} × (concatenate the most recent skip connection on the channel
 * axis, resnet, then the transformer when there is one), then an optional {@link Upsample2D}.
 *
 * <p>Channels follow diffusers' construction: resnet {@code i} takes {@code prev_output_channel}
 * (i = 0) or {@code out} channels, plus the skip's: {@code in} for the last resnet (the skip that
 * came from the previous, shallower down block) and {@code out} otherwise.
 */
final class UpBlock {
    private final List<ResnetBlock2D> resnets;
    private final List<Transformer2DModel> attentions;
    private final Upsample2D upsampler;

    private UpBlock(List<ResnetBlock2D> resnets, List<Transformer2DModel> attentions, Upsample2D upsampler) {
        this.resnets = resnets;
        this.attentions = attentions;
        this.upsampler = upsampler;
    }

    /** Up block {@code index} of {@code config}; its settings are the down path's, reversed. */
    static UpBlock create(ParameterSource p, UNetConfig config, int index) {
        String prefix = "up_blocks." + index;
        int n = config.numBlocks();
        int mirror = n - 1 - index; // reversed(block_out_channels)[index] etc.
        int[] channels = config.blockOutChannels();
        int out = channels[mirror];
        int prevOut = channels[index == 0 ? n - 1 : n - index]; // the previous up block's output (the mid block's for index 0)
        int in = channels[Math.max(mirror - 1, 0)]; // reversed_block_out_channels[min(index + 1, n − 1)]
        boolean crossAttention = config.upBlocks().get(index).hasCrossAttention();
        int layers = config.layersPerBlock()[mirror] + 1;
        List<ResnetBlock2D> resnets = new ArrayList<>();
        List<Transformer2DModel> attentions = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            int skipChannels = i == layers - 1 ? in : out;
            int resnetIn = i == 0 ? prevOut : out;
            resnets.add(ResnetBlock2D.create(p, prefix + ".resnets." + i, resnetIn + skipChannels, out, config.timeEmbedDim(),
                    config.normNumGroups(), config.normEps(), 1.0, Activation.SILU));
            if (crossAttention) {
                attentions.add(Transformer2DModel.create(p, prefix + ".attentions." + i, out, config.heads()[mirror],
                        config.transformerLayersPerBlock()[mirror], config.crossAttentionDim()[mirror], config.normNumGroups(),
                        config.useLinearProjection()));
            }
        }
        boolean last = index == n - 1;
        Upsample2D up = last ? null : Upsample2D.create(p, prefix + ".upsamplers.0", out);
        return new UpBlock(List.copyOf(resnets), List.copyOf(attentions), up);
    }

    /** How many skip connections this block consumes (one per resnet). */
    int skipCount() {
        return resnets.size();
    }

    boolean hasCrossAttention() {
        return !attentions.isEmpty();
    }

    /**
     * @param skips        this block's skip connections, oldest first; consumed newest first
     * @param upsampleSize the size to upsample to, or {@code null} for twice the input size
     */
    void setAttentionSlicing(AttentionSlicing slicing) {
        attentions.forEach(a -> a.setAttentionSlicing(slicing));
    }

    Tensor forward(Tensor x, Tensor tembAct, Tensor encoderHiddenStates, List<Tensor> skips, long[] upsampleSize) {
        Tensor h = x;
        for (int i = 0; i < resnets.size(); i++) {
            Tensor skip = skips.get(skips.size() - 1 - i);
            Tensor joined = h;
            h = Scopes.inChildScope(() -> torch.cat(new TensorVector(joined, skip), 1));
            h = resnets.get(i).forward(h, tembAct);
            if (hasCrossAttention()) {
                h = attentions.get(i).forward(h, encoderHiddenStates);
            }
        }
        if (upsampler != null) {
            h = upsampler.forward(h, upsampleSize);
        }
        return h;
    }
}
