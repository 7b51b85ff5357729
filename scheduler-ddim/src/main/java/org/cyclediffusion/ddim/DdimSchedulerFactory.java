package org.cyclediffusion.ddim;

import java.util.Objects;
import java.util.Optional;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.spi.DpmEncoding;
import org.cyclediffusion.core.spi.Fingerprints;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.SchedulerFactory;

/** A parsed {@code DDIMScheduler} config: fresh chains with their own η, and the DPM-Encoder capability (η &gt; 0). */
public final class DdimSchedulerFactory implements SchedulerFactory, DpmEncoding {
    private final DdimConfig config;
    private final String noiseScheduleDigest;
    private final String configDigest;

    public DdimSchedulerFactory(DdimConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        this.noiseScheduleDigest = Fingerprints.noiseSchedule(NoiseSchedule.of(config).betas());
        this.configDigest = Fingerprints.config(DdimSchedulerProvider.CLASS_NAME, config.toJson());
    }

    public DdimConfig config() {
        return config;
    }

    @Override
    public String className() {
        return DdimSchedulerProvider.CLASS_NAME;
    }

    @Override
    public String noiseScheduleDigest() {
        return noiseScheduleDigest;
    }

    @Override
    public String configDigest() {
        return configDigest;
    }

    /** A chain with the call's η (0 is plain deterministic DDIM). */
    @Override
    public Scheduler create(SamplerOptions options) {
        return new DdimScheduler(config, (float) options.eta());
    }

    @Override
    public Optional<DpmEncoding> dpmEncoding() {
        return Optional.of(this);
    }

    /**
     * A source chain. DESIGN §4: noise recovery divides by η·σ_t. At η = 0 diffusers recovers ±inf
     * and its DDIM step then drops that noise, silently decoupling the edit from the input.
     */
    @Override
    public DpmEncoder encoder(SamplerOptions options) {
        double eta = options.eta();
        if (!(eta > 0) || Double.isInfinite(eta)) {
            throw new IllegalArgumentException("eta = " + eta + ": CycleDiffusion needs a stochastic sampler, expected eta > 0"
                    + " (diffusers' default is 0.1; at eta = 0 the recovered noise is a division by zero and the edit loses the input image)");
        }
        return new DdimScheduler(config, (float) eta);
    }
}
