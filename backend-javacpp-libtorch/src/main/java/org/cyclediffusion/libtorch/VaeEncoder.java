package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.pad;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.Layers.Conv2d;
import org.cyclediffusion.libtorch.Layers.GroupNorm;
import org.cyclediffusion.libtorch.unet.Scopes;

/**
 * diffusers' VAE {@code Encoder}: {@code conv_in}, one {@code DownEncoderBlock2D} per level (resnets,
 * then a stride-2 conv except at the last level), the mid block (resnet, attention, resnet), group
 * norm, SiLU and {@code conv_out} to 2 × latent channels (mean and log-variance). Norm eps 1e-6.
 */
final class VaeEncoder {
    static final double EPS = 1e-6;

    private record DownBlock(List<ResnetBlock2D> resnets, Conv2d downsample) {
    }

    private final Conv2d convIn;
    private final List<DownBlock> downBlocks = new ArrayList<>();
    private final VaeMidBlock midBlock;
    private final GroupNorm normOut;
    private final Conv2d convOut;
    private final Activation activation = Activation.SILU;

    VaeEncoder(AutoencoderKLConfig c, TorchWeights w) {
        int[] ch = c.blockOutChannels();
        int groups = c.normNumGroups();
        convIn = Conv2d.of(w, "encoder.conv_in", 1, 1);
        int out = ch[0];
        for (int i = 0; i < ch.length; i++) {
            int in = out;
            out = ch[i];
            List<ResnetBlock2D> resnets = new ArrayList<>();
            for (int j = 0; j < c.layersPerBlock(); j++) {
                resnets.add(new ResnetBlock2D(w, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, groups, EPS, activation));
            }
            // Downsample2D(padding=0): pad right and bottom by one, then a 3×3 stride-2 conv.
            Conv2d down = i < ch.length - 1 ? Conv2d.of(w, "encoder.down_blocks." + i + ".downsamplers.0.conv", 2, 0) : null;
            downBlocks.add(new DownBlock(resnets, down));
        }
        midBlock = new VaeMidBlock(w, "encoder.mid_block", ch[ch.length - 1], groups, EPS, activation);
        normOut = GroupNorm.of(w, "encoder.conv_norm_out", groups, EPS);
        convOut = Conv2d.of(w, "encoder.conv_out", 1, 1);
    }

    static void expect(Map<String, long[]> s, AutoencoderKLConfig c) {
        int[] ch = c.blockOutChannels();
        Conv2d.expect(s, "encoder.conv_in", ch[0], c.inChannels(), 3);
        int out = ch[0];
        for (int i = 0; i < ch.length; i++) {
            int in = out;
            out = ch[i];
            for (int j = 0; j < c.layersPerBlock(); j++) {
                ResnetBlock2D.expect(s, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out);
            }
            if (i < ch.length - 1) {
                Conv2d.expect(s, "encoder.down_blocks." + i + ".downsamplers.0.conv", out, out, 3);
            }
        }
        VaeMidBlock.expect(s, "encoder.mid_block", ch[ch.length - 1]);
        GroupNorm.expect(s, "encoder.conv_norm_out", ch[ch.length - 1]);
        Conv2d.expect(s, "encoder.conv_out", 2L * c.latentChannels(), ch[ch.length - 1], 3);
    }

    /** Each block runs in its own pointer scope (its temporaries freed when it returns), as the decoder's. */
    Tensor forward(Tensor x) {
        Tensor h = Scopes.inChildScope(() -> convIn.apply(x));
        for (DownBlock block : downBlocks) {
            for (ResnetBlock2D r : block.resnets()) {
                Tensor in = h;
                h = Scopes.inChildScope(() -> r.forward(in));
            }
            if (block.downsample() != null) {
                Tensor in = h;
                h = Scopes.inChildScope(() -> block.downsample().apply(pad(in, new long[] {0, 1, 0, 1}, "constant", new DoubleOptional(0.0))));
            }
        }
        Tensor mid = h;
        h = Scopes.inChildScope(() -> midBlock.forward(mid));
        Tensor last = h;
        return Scopes.inChildScope(() -> convOut.apply(activation.apply(normOut.apply(last))));
    }
}
