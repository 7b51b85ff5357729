package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Sees every intermediate tensor of an edit, under the names the diffusers goldens use, so a
 * difference can be traced to the step where it starts. All methods default to doing nothing.
 */
public interface EditObserver {
    EditObserver NONE = new EditObserver() { };

    /** A named tensor outside the loop: {@code image_input}, {@code vae_mean}, {@code clean_latents}, ... */
    default void tensor(String name, FloatTensor value) {
    }

    /** One denoising step: the UNet batch output and the three chains after the step. */
    default void step(int index, int timestep, FloatTensor unetOut, FloatTensor sourceLatents, FloatTensor noise, FloatTensor latents) {
    }
}
