package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.config.JsonConfig;

/**
 * Creates schedulers for one {@code _class_name} of {@code scheduler/scheduler_config.json}
 * (e.g. {@code DDIMScheduler}). Registered by a plug-in's Guice module; a researcher's jar adds a
 * new name with no change here.
 */
public interface SchedulerProvider {
    /** The diffusers class name this provider answers to. */
    String className();

    /** A fresh scheduler from the parsed config (unknown keys reported against the file). */
    Scheduler create(JsonConfig config);
}
