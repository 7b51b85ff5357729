package org.cyclediffusion.core.testing.fakes;

import com.google.inject.AbstractModule;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.plugin.CycleDiffusionPlugin;
import org.cyclediffusion.core.plugin.Plugins;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.spi.SchedulerProvider;

/** Registers {@link ToyDdimScheduler} the way a researcher's jar would: one module, one services line. */
public final class ToySchedulerPlugin extends AbstractModule implements CycleDiffusionPlugin {
    @Override
    protected void configure() {
        Plugins.schedulers(binder()).addBinding(ToyDdimScheduler.CLASS_NAME).toInstance(new SchedulerProvider() {
            @Override
            public String className() {
                return ToyDdimScheduler.CLASS_NAME;
            }

            @Override
            public SchedulerFactory load(JsonConfig config) {
                return ToyDdimScheduler.factory(config.getInt("num_train_timesteps", 1000), config.getDouble("beta_start", 0.00085),
                        config.getDouble("beta_end", 0.012));
            }
        });
    }
}
