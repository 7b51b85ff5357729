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

    /**
     * One denoising step: the UNet batch output and the three chains after the step. In an edit the
     * output holds diffusers' stacked blocks (source ∅, target ∅, source c, target c) less those of a
     * chain that runs unguided ({@code StepRows}): by default, at source_guidance_scale 1, the last
     * three. In encode and decode it holds the one chain's rows, ∅ first when guided.
     */
    default void step(int index, int timestep, FloatTensor unetOut, FloatTensor sourceLatents, FloatTensor noise, FloatTensor latents) {
    }
}
