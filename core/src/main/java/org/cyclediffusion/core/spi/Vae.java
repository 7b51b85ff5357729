package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/** AutoencoderKL: pixels in [-1, 1] to a latent distribution and (unscaled) latents back to pixels. */
public interface Vae extends AutoCloseable {
    /** pixels [B, 3, H, W] → posterior over unscaled latents [B, 4, H/8, W/8]. */
    LatentDistribution encode(FloatTensor pixels);

    /** Unscaled latents (already divided by the scaling factor) → pixels [B, 3, H, W], roughly in [-1, 1]. */
    FloatTensor decode(FloatTensor latents);

    /** {@code scaling_factor} from the VAE config (0.18215 for SD 1.x and 2.x). */
    float scalingFactor();

    /** Spatial down-sampling of the encoder: 2^(levels - 1). */
    int scaleFactor();

    /**
     * diffusers' {@code enable_vae_tiling}: images larger than the VAE's {@code sample_size} are
     * encoded and decoded in overlapping tiles blended at the seams, so memory stays that of one
     * tile whatever the image size (results differ slightly from an untiled pass near the seams).
     *
     * @return false when this backend cannot tile (the setting is then unchanged)
     */
    default boolean setTiling(boolean on) {
        return false;
    }

    @Override
    void close();
}
