package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.upsample_nearest2d;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.Layers.Conv2d;
import org.cyclediffusion.libtorch.Layers.GroupNorm;
import org.cyclediffusion.libtorch.unet.Scopes;

/**
 * diffusers' VAE {@code Decoder}: {@code conv_in}, the mid block, one {@code UpDecoderBlock2D} per
 * level in reverse channel order (layers_per_block + 1 resnets, then nearest ×2 upsampling and a
 * conv except at the last level), group norm, SiLU, {@code conv_out}. Norm eps 1e-6.
 */
final class VaeDecoder {
    private record UpBlock(List<ResnetBlock2D> resnets, Conv2d upsample) {
    }

    private final Conv2d convIn;
    private final VaeMidBlock midBlock;
    private final List<UpBlock> upBlocks = new ArrayList<>();
    private final GroupNorm normOut;
    private final Conv2d convOut;
    private final Activation activation = Activation.SILU;

    VaeDecoder(AutoencoderKLConfig c, TorchWeights w) {
        int[] ch = c.blockOutChannels();
        int levels = ch.length;
        int groups = c.normNumGroups();
        double eps = VaeEncoder.EPS;
        convIn = Conv2d.of(w, "decoder.conv_in", 1, 1);
        midBlock = new VaeMidBlock(w, "decoder.mid_block", ch[levels - 1], groups, eps, activation);
        int out = ch[levels - 1];
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = ch[levels - 1 - i];
            List<ResnetBlock2D> resnets = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                resnets.add(new ResnetBlock2D(w, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, groups, eps, activation));
            }
            Conv2d up = i < levels - 1 ? Conv2d.of(w, "decoder.up_blocks." + i + ".upsamplers.0.conv", 1, 1) : null;
            upBlocks.add(new UpBlock(resnets, up));
        }
        normOut = GroupNorm.of(w, "decoder.conv_norm_out", groups, eps);
        convOut = Conv2d.of(w, "decoder.conv_out", 1, 1);
    }

    static void expect(Map<String, long[]> s, AutoencoderKLConfig c) {
        int[] ch = c.blockOutChannels();
        int levels = ch.length;
        Conv2d.expect(s, "decoder.conv_in", ch[levels - 1], c.latentChannels(), 3);
        VaeMidBlock.expect(s, "decoder.mid_block", ch[levels - 1]);
        int out = ch[levels - 1];
        for (int i = 0; i < levels; i++) {
            int in = out;
            out = ch[levels - 1 - i];
            for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                ResnetBlock2D.expect(s, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out);
            }
            if (i < levels - 1) {
                Conv2d.expect(s, "decoder.up_blocks." + i + ".upsamplers.0.conv", out, out, 3);
            }
        }
        GroupNorm.expect(s, "decoder.conv_norm_out", ch[0]);
        Conv2d.expect(s, "decoder.conv_out", c.outChannels(), ch[0], 3);
    }

    /** Each block runs in its own pointer scope (its temporaries freed when it returns): a 512² decode would otherwise hold GBs. */
    Tensor forward(Tensor z) {
        Tensor h = Scopes.inChildScope(() -> midBlock.forward(convIn.apply(z)));
        for (UpBlock block : upBlocks) {
            for (ResnetBlock2D r : block.resnets()) {
                Tensor in = h;
                h = Scopes.inChildScope(() -> r.forward(in));
            }
            if (block.upsample() != null) {
                Tensor in = h;
                // Upsample2D: F.interpolate(scale_factor=2.0, mode="nearest"), then a 3×3 conv.
                h = Scopes.inChildScope(() -> block.upsample().apply(
                        upsample_nearest2d(in, new long[] {2 * in.size(2), 2 * in.size(3)}, new DoubleOptional(2.0), new DoubleOptional(2.0))));
            }
        }
        Tensor last = h;
        return Scopes.inChildScope(() -> convOut.apply(activation.apply(normOut.apply(last))));
    }
}
