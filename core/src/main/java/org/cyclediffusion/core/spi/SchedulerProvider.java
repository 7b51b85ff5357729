package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.config.JsonConfig;

/**
 * Creates sampler definitions for one {@code _class_name} of {@code scheduler/scheduler_config.json}
 * (e.g. {@code DDIMScheduler}). Registered by a plug-in's Guice module; a researcher's jar adds a
 * new name with no change here.
 */
public interface SchedulerProvider {
    /** The diffusers class name this provider answers to. */
    String className();

    /**
     * Reads a config into a definition, failing with a message naming the file and the field for
     * values it cannot honour. The config may have been written for another class (diffusers'
     * {@code from_config(pipe.scheduler.config)}): keys this sampler does not take are reported,
     * not fatal.
     */
    SchedulerFactory load(JsonConfig config);
}
