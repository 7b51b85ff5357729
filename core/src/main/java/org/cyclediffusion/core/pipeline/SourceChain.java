package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The source chain of the DPM-Encoder: it never moves by the model, it samples the posterior
 * q(x_{t−1} | x_t, x_0) of the input's clean latents (so it stays on that image's trajectory), and
 * at each step it recovers the noise z_t that makes the sampler's own step from its model
 * prediction land there. Has its own sampler state.
 */
final class SourceChain {
    private final DpmEncoder scheduler;
    private final FloatTensor clean;
    private final NoiseSource noise;
    private FloatTensor latents;

    SourceChain(DpmEncoder scheduler, FloatTensor clean, FloatTensor start, NoiseSource noise) {
        this.scheduler = scheduler;
        this.clean = clean;
        this.latents = start;
        this.noise = noise;
    }

    FloatTensor modelInput(int timestep) {
        return scheduler.scaleModelInput(latents, timestep);
    }

    /** One step: x_{t−1} ~ q(· | x_t, x_0) (one draw, none at the last step), and the z_t it takes. */
    FloatTensor advance(int timestep, FloatTensor prediction) {
        FloatTensor prev = scheduler.posteriorSample(latents, clean, timestep, noise);
        FloatTensor z = scheduler.recoverNoise(prev, latents, timestep, prediction);
        latents = prev;
        return z;
    }

    FloatTensor latents() {
        return latents;
    }
}
