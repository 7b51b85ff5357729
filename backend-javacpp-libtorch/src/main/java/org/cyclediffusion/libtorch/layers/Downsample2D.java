package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * diffusers' {@code Downsample2D(use_conv=True)}: a 3×3 stride-2 conv with {@code padding}; with
 * padding 0 (the VAE encoder's, or {@code downsample_padding=0}) the input is first padded by one
 * zero row and column on the bottom/right, as diffusers does. Parameters {@code <prefix>.conv.*}.
 */
public final class Downsample2D {
    private final Conv2d conv;
    private final boolean padBottomRight;

    private Downsample2D(Conv2d conv, boolean padBottomRight) {
        this.conv = conv;
        this.padBottomRight = padBottomRight;
    }

    public static Downsample2D create(ParameterSource p, String prefix, int channels, int padding) {
        return new Downsample2D(Conv2d.create(p, prefix + ".conv", channels, channels, 3, 2, padding), padding == 0);
    }

    public Tensor forward(Tensor x) {
        return Scopes.inChildScope(() -> conv.forward(padBottomRight ? torch.pad(x, 0L, 1L, 0L, 1L) : x));
    }
}
