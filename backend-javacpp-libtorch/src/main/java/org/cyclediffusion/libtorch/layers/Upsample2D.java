package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * diffusers' {@code Upsample2D(use_conv=True)} (UNet and VAE decoder): nearest-neighbour upsampling, then a 3×3 conv.
 * Without an explicit size it doubles height and width ({@code scale_factor=2.0}); the UNet passes
 * the skip connection's size instead when the latent size is not divisible by
 * 2^(number of upsamplers) — that is how odd sizes (7×10 latents: 7 → 4 → 2 on the way down) come
 * back to 4 and 7 rather than 4 and 8. {@code upsample_nearest2d} with an output size picks source
 * index {@code floor(dst · in/out)}; for exactly twice the size that equals the scale-factor path.
 * (diffusers round-trips bfloat16 through float32 here; nearest copying is exact, so that is
 * skipped.)
 */
public final class Upsample2D {
    private final Conv2d conv;

    private Upsample2D(Conv2d conv) {
        this.conv = conv;
    }

    public static Upsample2D create(ParameterSource p, String prefix, int channels) {
        return new Upsample2D(Conv2d.create(p, prefix + ".conv", channels, channels, 3, 1, 1));
    }

    /** Twice the input size. */
    public Tensor forward(Tensor x) {
        return forward(x, null);
    }

    /** @param outputSize {h, w}, or {@code null} for twice the input size */
    public Tensor forward(Tensor x, long[] outputSize) {
        long[] size = outputSize != null ? outputSize : new long[] {2 * x.size(2), 2 * x.size(3)};
        return Scopes.inChildScope(() -> conv.forward(torch.upsample_nearest2d(x, size)));
    }
}
