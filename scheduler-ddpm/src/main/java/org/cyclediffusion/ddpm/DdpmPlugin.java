package org.cyclediffusion.ddpm;

import com.google.inject.AbstractModule;
import org.cyclediffusion.core.plugin.CycleDiffusionPlugin;
import org.cyclediffusion.core.plugin.Plugins;

/** The DDPM plug-in: contributes {@link DdpmSchedulerProvider} under {@code DDPMScheduler}. Cheap and side-effect free. */
public final class DdpmPlugin extends AbstractModule implements CycleDiffusionPlugin {
    @Override
    protected void configure() {
        Plugins.schedulers(binder()).addBinding(DdpmSchedulerProvider.CLASS_NAME).to(DdpmSchedulerProvider.class);
    }
}
