package org.cyclediffusion.ddpm;

import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.spi.SchedulerProvider;

/** Answers to {@code "_class_name": "DDPMScheduler"}, or to {@code --scheduler DDPMScheduler} over another class's config. */
public final class DdpmSchedulerProvider implements SchedulerProvider {
    public static final String CLASS_NAME = "DDPMScheduler";

    @Override
    public String className() {
        return CLASS_NAME;
    }

    @Override
    public SchedulerFactory load(JsonConfig config) {
        return new DdpmSchedulerFactory(DdpmConfig.from(config));
    }
}
