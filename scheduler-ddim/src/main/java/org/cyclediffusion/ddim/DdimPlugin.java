package org.cyclediffusion.ddim;

import com.google.inject.AbstractModule;
import org.cyclediffusion.core.plugin.CycleDiffusionPlugin;
import org.cyclediffusion.core.plugin.Plugins;

/** The DDIM plug-in: contributes {@link DdimSchedulerProvider} under {@code DDIMScheduler}. Cheap and side-effect free. */
public final class DdimPlugin extends AbstractModule implements CycleDiffusionPlugin {
    @Override
    protected void configure() {
        Plugins.schedulers(binder()).addBinding(DdimSchedulerProvider.CLASS_NAME).to(DdimSchedulerProvider.class);
    }
}
