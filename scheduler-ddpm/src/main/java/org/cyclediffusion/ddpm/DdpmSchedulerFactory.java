package org.cyclediffusion.ddpm;

import java.util.Objects;
import java.util.Optional;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.spi.DpmEncoding;
import org.cyclediffusion.core.spi.Fingerprints;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.ddim.NoiseSchedule;

/**
 * A parsed {@code DDPMScheduler} config. DDPM's stochasticity is its {@code variance_type}, part of
 * the config: the call's {@code eta} (a DDIM knob) does not apply, as diffusers drops it for a
 * scheduler whose {@code step} does not take it.
 */
public final class DdpmSchedulerFactory implements SchedulerFactory, DpmEncoding {
    private final DdpmConfig config;
    private final String noiseScheduleDigest;
    private final String configDigest;

    public DdpmSchedulerFactory(DdpmConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        this.noiseScheduleDigest = Fingerprints.noiseSchedule(NoiseSchedule.of(config.shared()).betas());
        this.configDigest = Fingerprints.config(DdpmSchedulerProvider.CLASS_NAME, config.toJson());
    }

    public DdpmConfig config() {
        return config;
    }

    @Override
    public String className() {
        return DdpmSchedulerProvider.CLASS_NAME;
    }

    @Override
    public String noiseScheduleDigest() {
        return noiseScheduleDigest;
    }

    @Override
    public String configDigest() {
        return configDigest;
    }

    @Override
    public Scheduler create(SamplerOptions options) {
        return new DdpmScheduler(config);
    }

    @Override
    public Optional<DpmEncoding> dpmEncoding() {
        return Optional.of(this);
    }

    @Override
    public DpmEncoder encoder(SamplerOptions options) {
        return new DdpmScheduler(config);
    }
}
