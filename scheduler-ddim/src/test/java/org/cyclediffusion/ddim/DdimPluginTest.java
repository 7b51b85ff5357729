package org.cyclediffusion.ddim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.PredictionType;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;

class DdimPluginTest {
    @Test
    void serviceLoaderFindsDdimScheduler() {
        Registry registry = Registry.discover();
        assertTrue(registry.schedulers().containsKey("DDIMScheduler"), registry.schedulers().keySet().toString());
        assertInstanceOf(DdimSchedulerProvider.class, registry.schedulers().get("DDIMScheduler"));
        assertEquals("DDIMScheduler", registry.schedulers().get("DDIMScheduler").className());
    }

    @Test
    void buildsTheSchedulerOfTinySd() {
        SchedulerFactory f = Registry.discover().scheduler(ModelFolder.open(Fixtures.model("tiny-sd")));
        assertTrue(f.dpmEncoding().isPresent(), "DDIM can encode");
        Scheduler s = f.create(new SamplerOptions(0.1));
        DdimScheduler ddim = assertInstanceOf(DdimScheduler.class, s);
        assertEquals(0.1f, ddim.eta());
        assertNotSame(s, f.create(new SamplerOptions(0.1)), "every chain has its own state");
        assertEquals(PredictionType.EPSILON, s.predictionType());
        s.setTimesteps(10);
        assertArrayEquals(new int[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, s.timesteps());
        assertEquals(BetaSchedule.SCALED_LINEAR, ddim.config().betaSchedule());
    }

    @Test
    void buildsTheVPredictionSchedulerOfTinySd2() {
        Scheduler s = Registry.discover().scheduler(ModelFolder.open(Fixtures.model("tiny-sd2"))).create(SamplerOptions.DEFAULT);
        assertEquals(PredictionType.V_PREDICTION, s.predictionType());
    }

    @Test
    void badConfigFailsThroughTheRegistryNamingTheFile() {
        JsonConfig json = JsonConfig.parse("{\"_class_name\": \"DDIMScheduler\", \"timestep_spacing\": \"karras\"}", "x/scheduler_config.json");
        ConfigException e = assertThrows(ConfigException.class, () -> Registry.discover().scheduler(json));
        assertTrue(e.getMessage().contains("x/scheduler_config.json") && e.getMessage().contains("timestep_spacing"), e.getMessage());
    }
}
