package org.cyclediffusion.libtorch;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.Conv2d;
import org.cyclediffusion.libtorch.layers.Downsample2D;
import org.cyclediffusion.libtorch.layers.GroupNorm;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ResnetBlock2D;
import org.cyclediffusion.libtorch.layers.Scopes;

/**
 * diffusers' VAE {@code Encoder}: {@code conv_in}, one {@code DownEncoderBlock2D} per level (resnets,
 * then a stride-2 conv except at the last level), the mid block (resnet, attention, resnet), group
 * norm, SiLU and {@code conv_out} to 2 × latent channels (mean and log-variance). Norm eps 1e-6.
 * Every block frees its temporaries when it returns.
 */
final class VaeEncoder {
    static final double EPS = 1e-6;

    private record DownBlock(List<ResnetBlock2D> resnets, Downsample2D downsample) {
    }

    private final Conv2d convIn;
    private final List<DownBlock> downBlocks = new ArrayList<>();
    private final VaeMidBlock midBlock;
    private final GroupNorm normOut;
    private final Conv2d convOut;
    private final Activation activation;

    VaeEncoder(AutoencoderKLConfig c, ParameterSource p) {
        int[] ch = c.blockOutChannels();
        int groups = c.normNumGroups();
        activation = Activation.SILU;
        convIn = Conv2d.create(p, "encoder.conv_in", c.inChannels(), ch[0], 3, 1, 1);
        int out = ch[0];
        for (int i = 0; i < ch.length; i++) {
            int in = out;
            out = ch[i];
            List<ResnetBlock2D> resnets = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock(); j++) {
                resnets.add(ResnetBlock2D.create(p, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, 0, groups, EPS,
                        1.0, activation));
            }
            // Downsample2D(padding=0): pad right and bottom by one, then a 3×3 stride-2 conv.
            Downsample2D down = i < ch.length - 1 ? Downsample2D.create(p, "encoder.down_blocks." + i + ".downsamplers.0", out, 0) : null;
            downBlocks.add(new DownBlock(List.copyOf(resnets), down));
        }
        midBlock = new VaeMidBlock(p, "encoder.mid_block", ch[ch.length - 1], groups, EPS, activation);
        normOut = GroupNorm.create(p, "encoder.conv_norm_out", groups, ch[ch.length - 1], EPS);
        convOut = Conv2d.create(p, "encoder.conv_out", ch[ch.length - 1], 2 * c.latentChannels(), 3, 1, 1);
    }

    Tensor forward(Tensor x) {
        // each block's input freed as soon as its output exists (x is the caller's and stays)
        Tensor h = Scopes.inChildScope(() -> convIn.forward(x));
        for (DownBlock block : downBlocks) {
            for (ResnetBlock2D r : block.resnets()) {
                h = Scopes.consume(h, r::forward);
            }
            if (block.downsample() != null) {
                h = Scopes.consume(h, block.downsample()::forward);
            }
        }
        h = Scopes.consume(h, midBlock::forward);
        return Scopes.consume(h, mid -> Scopes.inChildScope(() -> convOut.forward(normOut.forward(mid, activation))));
    }
}
