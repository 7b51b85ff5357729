package org.cyclediffusion.ddim;

import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.spi.SchedulerProvider;

/** Answers to {@code "_class_name": "DDIMScheduler"} in {@code scheduler/scheduler_config.json}. */
public final class DdimSchedulerProvider implements SchedulerProvider {
    public static final String CLASS_NAME = "DDIMScheduler";

    @Override
    public String className() {
        return CLASS_NAME;
    }

    @Override
    public SchedulerFactory load(JsonConfig config) {
        return new DdimSchedulerFactory(DdimConfig.from(config));
    }
}
