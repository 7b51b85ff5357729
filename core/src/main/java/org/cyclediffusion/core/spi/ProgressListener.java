package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Called every {@code callbackSteps} denoising steps with the target latents, as diffusers'
 * {@code callback(i, t, latents)}. Returning false cancels the edit.
 */
@FunctionalInterface
public interface ProgressListener {
    boolean onStep(int step, int totalSteps, int timestep, FloatTensor latents);
}
