package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.spi.Models;

/**
 * Whether a pipeline keeps each network's weights resident after using them in a run. The weights
 * of a full-size SD 1.5 model are 5.5 GB (UNet 3.44, safety checker 1.22, text encoder 0.49, VAE
 * 0.33); a backend that maps them from their files pages each network in when it first runs, so
 * with {@link #KEEP} all of them are resident by the end of an edit.
 */
public enum WeightResidency {
    /**
     * Weights stay resident once used, so the next request pays no page faults: for anything that
     * runs more than one edit on a loaded pipeline (the server, batch edits, Spark). The default.
     */
    KEEP,
    /**
     * After each network's last use in a run the pipeline tells the backend so
     * ({@link Models#releaseResidentWeights}): the text encoder's weights after prompt encoding, the
     * VAE encoder's after the image is encoded, the UNet's after the last step, the VAE decoder's
     * after decoding, the safety checker's after checking. The peak then holds the largest network
     * instead of all of them; a further run on the same pipeline faults the weights in again (from
     * the OS page cache, if it still holds them). For one-shot commands ({@code edit},
     * {@code encode}, {@code decode}). Outputs are identical under both policies.
     */
    RELEASE_AFTER_USE
}
