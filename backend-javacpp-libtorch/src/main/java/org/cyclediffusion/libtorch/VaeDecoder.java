package org.cyclediffusion.libtorch;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.Conv2d;
import org.cyclediffusion.libtorch.layers.GroupNorm;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ResnetBlock2D;
import org.cyclediffusion.libtorch.layers.Scopes;
import org.cyclediffusion.libtorch.layers.Upsample2D;

/**
 * diffusers' VAE {@code Decoder}: {@code conv_in}, the mid block, one {@code UpDecoderBlock2D} per
 * level in reverse channel order (layers_per_block + 1 resnets, then nearest ×2 upsampling and a
 * conv except at the last level), group norm, SiLU, {@code conv_out}. Norm eps 1e-6. Every block
 * frees its temporaries when it returns (at 512² one decode otherwise holds several GB).
 */
final class VaeDecoder {
    private record UpBlock(List<ResnetBlock2D> resnets, Upsample2D upsample) {
    }

    private final Conv2d convIn;
    private final VaeMidBlock midBlock;
    private final List<UpBlock> upBlocks = new ArrayList<>();
    private final GroupNorm normOut;
    private final Conv2d convOut;
    private final Activation activation;

    VaeDecoder(AutoencoderKLConfig c, ParameterSource p) {
        int[] ch = c.blockOutChannels();
        int levels = ch.length;
        int groups = c.normNumGroups();
        double eps = VaeEncoder.EPS;
        activation = Activation.SILU;
        convIn = Conv2d.create(p, "decoder.conv_in", c.latentChannels(), ch[levels - 1], 3, 1, 1);
        midBlock = new VaeMidBlock(p, "decoder.mid_block", ch[levels - 1], groups, eps, activation);
        int out = ch[levels - 1];
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = ch[levels - 1 - i];
            List<ResnetBlock2D> resnets = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                resnets.add(ResnetBlock2D.create(p, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, 0, groups, eps,
                        1.0, activation));
            }
            Upsample2D up = i < levels - 1 ? Upsample2D.create(p, "decoder.up_blocks." + i + ".upsamplers.0", out) : null;
            upBlocks.add(new UpBlock(List.copyOf(resnets), up));
        }
        normOut = GroupNorm.create(p, "decoder.conv_norm_out", groups, ch[0], eps);
        convOut = Conv2d.create(p, "decoder.conv_out", ch[0], c.outChannels(), 3, 1, 1);
    }

    Tensor forward(Tensor z) {
        // each block's input freed as soon as its output exists, as diffusers' reassignments free them
        Tensor h = Scopes.consume(Scopes.inChildScope(() -> convIn.forward(z)), midBlock::forward);
        for (UpBlock block : upBlocks) {
            for (ResnetBlock2D r : block.resnets()) {
                h = Scopes.consume(h, r::forward);
            }
            if (block.upsample() != null) {
                // F.interpolate(scale_factor=2.0, mode="nearest"), then a 3×3 conv
                h = Scopes.consume(h, block.upsample()::forward);
            }
        }
        return Scopes.consume(h, last -> Scopes.inChildScope(() -> convOut.forward(normOut.forward(last, activation))));
    }
}
