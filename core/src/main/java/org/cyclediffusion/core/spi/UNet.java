package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/** The conditional denoiser: predicts noise (or v, or x0, per the scheduler's prediction type). */
public interface UNet extends AutoCloseable {
    /** Uploads encoder hidden states [B, 77, D] once for a whole edit. */
    Conditioning condition(FloatTensor encoderHiddenStates);

    /** One forward pass: latents [B, C, h, w] at integer timestep t → output of the same shape. */
    FloatTensor predict(FloatTensor latents, long timestep, Conditioning conditioning);

    /** Latent channels ({@code in_channels}). */
    int inChannels();

    /**
     * Fails fast, before any model runs, when this network cannot take latents of this size (an
     * exported graph traced at one size). The message says which sizes work.
     */
    default void checkLatentSize(int height, int width) {
    }

    /**
     * diffusers' {@code enable_attention_slicing}, see {@link AttentionSlicing}: less peak memory
     * for large images, the same results up to float rounding.
     *
     * @return false when this backend cannot slice (the setting is then unchanged)
     */
    default boolean setAttentionSlicing(AttentionSlicing slicing) {
        return false;
    }

    @Override
    void close();
}
