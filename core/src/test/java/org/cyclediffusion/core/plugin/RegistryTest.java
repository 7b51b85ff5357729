package org.cyclediffusion.core.plugin;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.testing.fakes.ToyDdimScheduler;
import org.junit.jupiter.api.Test;

class RegistryTest {

    /** A scheduler whose jar only adds a services line is found by its _class_name, with no code change. */
    @Test
    void aSchedulerRegisteredOnlyInTestResourcesIsDiscovered() {
        Registry r = Registry.discover();
        assertTrue(r.schedulers().containsKey(ToyDdimScheduler.CLASS_NAME), r.schedulers().keySet().toString());
        JsonConfig config = JsonConfig.parse("{\"_class_name\": \"ToyDDIMScheduler\", \"num_train_timesteps\": 1000}", "test.json");
        assertInstanceOf(ToyDdimScheduler.class, r.scheduler(config).create(new org.cyclediffusion.core.spi.SamplerOptions(0.1)));
    }

    @Test
    void unknownNamesListTheKnownOnes() {
        Registry r = Registry.discover();
        ConfigException e = assertThrows(ConfigException.class,
                () -> r.scheduler(JsonConfig.parse("{\"_class_name\": \"PNDMScheduler\"}", "scheduler_config.json")));
        assertTrue(e.getMessage().contains("scheduler_config.json") && e.getMessage().contains("PNDMScheduler")
                && e.getMessage().contains(ToyDdimScheduler.CLASS_NAME), e.getMessage());
        ConfigException b = assertThrows(ConfigException.class, () -> r.backend("tensorflow"));
        assertTrue(b.getMessage().contains("unknown backend 'tensorflow'; known: "), b.getMessage());
        ConfigException none = assertThrows(ConfigException.class, () -> r.scheduler(JsonConfig.parse("{}", "s.json")));
        assertTrue(none.getMessage().contains("no _class_name"), none.getMessage());
    }
}
