package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.tensor.FloatTensor;

/** The target chain: the sampler's own stochastic steps under the target prompt, driven by the latent code's z_t. Has its own sampler state. */
final class TargetChain {
    private final Scheduler scheduler;
    private FloatTensor latents;

    TargetChain(Scheduler scheduler, FloatTensor start) {
        this.scheduler = scheduler;
        this.latents = start;
    }

    FloatTensor modelInput(int timestep) {
        return scheduler.scaleModelInput(latents, timestep);
    }

    void advance(int timestep, FloatTensor prediction, FloatTensor z) {
        latents = scheduler.step(prediction, timestep, latents, z).prevSample();
    }

    FloatTensor latents() {
        return latents;
    }
}
