package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * diffusers' {@code ResnetBlock2D} with {@code time_embedding_norm="default"}, no up/down-sampling
 * inside, as the UNet (with a time embedding) and the VAE ({@code temb_channels=None}) build it:
 * <pre>
 *   h   = conv1(act(norm1(x)))  [+ time_emb_proj(act(temb))[:, :, None, None]]
 *   h   = conv2(act(norm2(h)))          (dropout: identity at inference)
 *   out = (conv_shortcut(x) or x + h) / output_scale_factor
 * </pre>
 * {@code conv_shortcut} (1×1) exists only when the channel count changes.
 */
public final class ResnetBlock2D {
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final Linear timeEmbProj;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d convShortcut;
    private final double outputScaleFactor;
    private final Activation activation;

    private ResnetBlock2D(GroupNorm norm1, Conv2d conv1, Linear timeEmbProj, GroupNorm norm2, Conv2d conv2, Conv2d convShortcut,
            double outputScaleFactor, Activation activation) {
        this.norm1 = norm1;
        this.conv1 = conv1;
        this.timeEmbProj = timeEmbProj;
        this.norm2 = norm2;
        this.conv2 = conv2;
        this.convShortcut = convShortcut;
        this.outputScaleFactor = outputScaleFactor;
        this.activation = activation;
    }

    /** @param tembChannels the time embedding's width, or 0 for a block without one (the VAE's) */
    public static ResnetBlock2D create(ParameterSource p, String prefix, int in, int out, int tembChannels, int groups, double eps,
            double outputScaleFactor, Activation activation) {
        GroupNorm norm1 = GroupNorm.create(p, prefix + ".norm1", groups, in, eps);
        Conv2d conv1 = Conv2d.create(p, prefix + ".conv1", in, out, 3, 1, 1);
        Linear timeEmbProj = tembChannels > 0 ? Linear.create(p, prefix + ".time_emb_proj", tembChannels, out, true) : null;
        GroupNorm norm2 = GroupNorm.create(p, prefix + ".norm2", groups, out, eps);
        Conv2d conv2 = Conv2d.create(p, prefix + ".conv2", out, out, 3, 1, 1);
        Conv2d shortcut = in != out ? Conv2d.create(p, prefix + ".conv_shortcut", in, out, 1, 1, 0) : null;
        return new ResnetBlock2D(norm1, conv1, timeEmbProj, norm2, conv2, shortcut, outputScaleFactor, activation);
    }

    /** A block without time embedding (the VAE's). */
    public Tensor forward(Tensor x) {
        return forward(x, null);
    }

    /**
     * @param tembAct {@code act(temb)} [B, temb]: every resnet applies the same activation to the
     *                time embedding first, so the caller computes it once per forward pass; null
     *                for a block without time embedding
     */
    public Tensor forward(Tensor x, Tensor tembAct) {
        return Scopes.inChildScope(() -> {
            Tensor h = conv1.forward(norm1.forward(x, activation));
            if (timeEmbProj != null) {
                h = h.add_(timeEmbProj.forward(tembAct).unsqueeze(2).unsqueeze(3));
            }
            h = conv2.forward(norm2.forward(h, activation));
            Tensor skip = convShortcut != null ? convShortcut.forward(x) : x;
            // in place over conv2's output (the sum commutes bit for bit): one full-size buffer fewer
            Tensor out = h.add_(skip);
            // diffusers divides unconditionally; x / 1.0 is exact, so skipping it changes nothing
            return outputScaleFactor == 1.0 ? out : out.div(new Scalar(outputScaleFactor));
        });
    }
}
