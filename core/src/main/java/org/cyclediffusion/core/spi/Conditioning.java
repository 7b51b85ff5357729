package org.cyclediffusion.core.spi;

/**
 * Encoder hidden states already placed where the UNet needs them (on the device, in its dtype),
 * prepared once per edit and reused at every step.
 */
public interface Conditioning extends AutoCloseable {
    /** Number of rows (must equal the batch of the latents passed to {@link UNet#predict}). */
    int batch();

    @Override
    void close();
}
