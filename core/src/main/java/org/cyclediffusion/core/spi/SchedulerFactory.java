package org.cyclediffusion.core.spi;

import java.util.Optional;

/**
 * A sampler definition: a parsed {@code scheduler_config.json} under one {@code _class_name}. Holds
 * no chain state, so one instance serves every edit; each chain asks it for a fresh
 * {@link Scheduler}.
 */
public interface SchedulerFactory {
    /** The diffusers class name, e.g. {@code DDIMScheduler}. */
    String className();

    /**
     * A fingerprint of the training noise schedule (the number of training timesteps and the float32
     * betas): two models can share a latent space, and a latent code can be decoded, only when it is
     * equal.
     */
    String noiseScheduleDigest();

    /** A fingerprint of the whole effective configuration (every constructor argument). */
    String configDigest();

    /** A fresh chain (the target chain of an edit, or any plain sampling). */
    Scheduler create(SamplerOptions options);

    /** The DPM-Encoder capability, or empty for a sampler that cannot encode (the cycle pipeline refuses it at load). */
    Optional<DpmEncoding> dpmEncoding();
}
