package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * diffusers' {@code ResnetBlock2D} with {@code time_embedding_norm="default"}, SiLU, no
 * up/down-sampling inside:
 * <pre>
 *   h   = conv1(silu(norm1(x))) + time_emb_proj(silu(temb))[:, :, None, None]
 *   h   = conv2(silu(norm2(h)))          (dropout: identity at inference)
 *   out = (conv_shortcut(x) or x + h) / output_scale_factor
 * </pre>
 * {@code conv_shortcut} (1×1) exists only when the channel count changes.
 */
final class ResnetBlock2D {
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final Linear timeEmbProj;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d convShortcut;
    private final double outputScaleFactor;

    private ResnetBlock2D(GroupNorm norm1, Conv2d conv1, Linear timeEmbProj, GroupNorm norm2, Conv2d conv2, Conv2d convShortcut,
            double outputScaleFactor) {
        this.norm1 = norm1;
        this.conv1 = conv1;
        this.timeEmbProj = timeEmbProj;
        this.norm2 = norm2;
        this.conv2 = conv2;
        this.convShortcut = convShortcut;
        this.outputScaleFactor = outputScaleFactor;
    }

    static ResnetBlock2D create(ParameterSource p, String prefix, int in, int out, int tembChannels, int groups, double eps,
            double outputScaleFactor) {
        GroupNorm norm1 = GroupNorm.create(p, prefix + ".norm1", groups, in, eps);
        Conv2d conv1 = Conv2d.create(p, prefix + ".conv1", in, out, 3, 1, 1);
        Linear timeEmbProj = Linear.create(p, prefix + ".time_emb_proj", tembChannels, out, true);
        GroupNorm norm2 = GroupNorm.create(p, prefix + ".norm2", groups, out, eps);
        Conv2d conv2 = Conv2d.create(p, prefix + ".conv2", out, out, 3, 1, 1);
        Conv2d shortcut = in != out ? Conv2d.create(p, prefix + ".conv_shortcut", in, out, 1, 1, 0) : null;
        return new ResnetBlock2D(norm1, conv1, timeEmbProj, norm2, conv2, shortcut, outputScaleFactor);
    }

    /**
     * @param tembAct {@code silu(temb)} [B, temb]: every resnet applies the same activation to the
     *                time embedding first, so the caller computes it once per forward pass
     */
    Tensor forward(Tensor x, Tensor tembAct) {
        return Scopes.inChildScope(() -> {
            Tensor h = conv1.forward(torch.silu(norm1.forward(x)));
            Tensor t = timeEmbProj.forward(tembAct).unsqueeze(2).unsqueeze(3);
            h = h.add(t);
            h = conv2.forward(torch.silu(norm2.forward(h)));
            Tensor skip = convShortcut != null ? convShortcut.forward(x) : x;
            Tensor out = skip.add(h);
            // diffusers divides unconditionally; x / 1.0 is exact, so skipping it changes nothing
            return outputScaleFactor == 1.0 ? out : out.div(new Scalar(outputScaleFactor));
        });
    }
}
