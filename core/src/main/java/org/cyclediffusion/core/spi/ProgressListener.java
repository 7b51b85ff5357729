package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Called every {@code callbackSteps} denoising steps with the target latents, as diffusers'
 * {@code callback(i, t, latents)}. Returning false cancels the edit. It also hears when each
 * {@link EditPhase} begins (returning false there cancels too, before the phase runs) and the
 * warnings diffusers logs, such as a prompt cut at CLIP's 77 tokens.
 */
@FunctionalInterface
public interface ProgressListener {
    boolean onStep(int step, int totalSteps, int timestep, FloatTensor latents);

    /** A phase is about to run; false cancels the edit before it starts. */
    default boolean onPhase(EditPhase phase) {
        return true;
    }

    /** A warning about the request; by default it goes to the pipeline's logger, as diffusers logs it. */
    default void onWarning(String message) {
        System.getLogger("org.cyclediffusion.core.pipeline.CycleDiffusionPipeline").log(System.Logger.Level.WARNING, message);
    }
}
