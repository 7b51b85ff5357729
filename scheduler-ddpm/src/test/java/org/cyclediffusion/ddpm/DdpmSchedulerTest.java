package org.cyclediffusion.ddpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DdpmSchedulerTest {
    /** Stable Diffusion's scheduler config, as DDPM reads it (its set_alpha_to_one and skip_prk_steps have no effect). */
    static final String SD = "{\"_class_name\": \"DDPMScheduler\", \"beta_start\": 0.00085, \"beta_end\": 0.012, \"beta_schedule\": \"scaled_linear\","
            + " \"clip_sample\": false, \"set_alpha_to_one\": false, \"skip_prk_steps\": true, \"steps_offset\": 1";

    static DdpmScheduler scheduler(String json) {
        return new DdpmScheduler(DdpmConfig.from(JsonConfig.parse(json, "test/scheduler_config.json")));
    }

    static FloatTensor randn(long seed, int... shape) {
        return new TorchGenerator(seed).randn(shape);
    }

    /**
     * The DPM-Encoder's contract, for every step of a schedule: the noise recovered from a posterior
     * draw makes the sampler's own step land on that draw, to float32 rounding.
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"fixed_small,epsilon", "fixed_small_log,epsilon", "fixed_large,epsilon", "fixed_small,v_prediction", "fixed_large,sample"})
    void recoveredNoiseReproducesThePosteriorStep(String variance, String prediction) {
        DdpmScheduler s = scheduler(SD + ", \"variance_type\": \"" + variance + "\", \"prediction_type\": \"" + prediction + "\"}");
        s.setTimesteps(20);
        FloatTensor x0 = randn(1, 2, 4, 8, 8);
        FloatTensor x = s.addNoise(x0, randn(2, 2, 4, 8, 8), new int[] {s.timesteps()[0]});
        NoiseSource noise = new TorchGenerator(3);
        double worst = 0;
        for (int t : s.timesteps()) {
            FloatTensor model = randn(t, 2, 4, 8, 8);
            FloatTensor prev = s.posteriorSample(x, x0, t, noise);
            FloatTensor z = s.recoverNoise(prev, x, t, model);
            assertTrue(z.allFinite(), "z at t = " + t);
            FloatTensor stepped = s.step(model, t, x, z).prevSample();
            // rounding of μ + σ·((x' − μ)/σ): a few ulps of the largest term
            double scale = Math.max(1, Math.abs(maxAbs(z)) * 1e-10 + maxAbs(prev));
            worst = Math.max(worst, stepped.maxAbsDiff(prev) / scale);
            x = prev;
        }
        assertTrue(worst <= 2e-6, variance + " " + prediction + ": the step missed the posterior draw by " + worst + " (relative)");
    }

    private static double maxAbs(FloatTensor t) {
        double m = 0;
        for (float v : t.data()) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** One posterior draw per step, none at the last one (t' &lt; 0: the posterior is x_0 itself). */
    @Test
    void posteriorDrawsOncePerStepButTheLast() {
        DdpmScheduler s = scheduler(SD + "}");
        s.setTimesteps(10);
        List<int[]> draws = new ArrayList<>();
        TorchGenerator g = new TorchGenerator(0);
        NoiseSource recording = shape -> {
            draws.add(shape);
            return g.randn(shape);
        };
        FloatTensor x0 = randn(1, 1, 4, 8, 8);
        FloatTensor x = x0;
        for (int t : s.timesteps()) {
            x = s.posteriorSample(x, x0, t, recording);
        }
        assertEquals(9, draws.size());
        assertArrayEquals(x0.data(), x.data(), "the last posterior sample is x_0");
    }

    /** Ho et al.: fixed_small's σ² is the posterior variance β̃_t; fixed_large's is β_t, larger. */
    @Test
    void varianceTypesScaleTheNoiseAsDefined() {
        DdpmScheduler small = scheduler(SD + ", \"variance_type\": \"fixed_small\"}");
        DdpmScheduler large = scheduler(SD + ", \"variance_type\": \"fixed_large\"}");
        small.setTimesteps(10);
        large.setTimesteps(10);
        FloatTensor x = randn(1, 1, 4, 4, 4);
        FloatTensor m = randn(2, 1, 4, 4, 4);
        FloatTensor z = randn(3, 1, 4, 4, 4);
        int t = 501;
        float dSmall = small.step(m, t, x, z).prevSample().maxAbsDiff(small.step(m, t, x, null).prevSample());
        float dLarge = large.step(m, t, x, z).prevSample().maxAbsDiff(large.step(m, t, x, null).prevSample());
        assertTrue(dLarge > dSmall, "fixed_large adds more noise: " + dLarge + " vs " + dSmall);
        double[] ac = alphasCumprod();
        int prev = t - 100;
        double beta = 1 - ac[t] / ac[prev];
        double posterior = (1 - ac[prev]) / (1 - ac[t]) * beta;
        assertEquals(Math.sqrt(posterior) * maxAbs(z), dSmall, 1e-5);
        assertEquals(Math.sqrt(beta) * maxAbs(z), dLarge, 1e-5);
    }

    private static double[] alphasCumprod() {
        double[] out = new double[1000];
        double p = 1;
        for (int i = 0; i < 1000; i++) {
            double b = Math.sqrt(0.00085) + (Math.sqrt(0.012) - Math.sqrt(0.00085)) * i / 999;
            p *= 1 - b * b;
            out[i] = p;
        }
        return out;
    }

    @Test
    void leadingTimestepsOfStableDiffusion() {
        DdpmScheduler s = scheduler(SD + "}");
        s.setTimesteps(10);
        assertArrayEquals(new int[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, s.timesteps());
    }

    @Test
    void unsupportedVarianceTypesAreRefusedNamingTheFileAndField() {
        for (String v : List.of("learned", "learned_range", "fixed_large_log", "tiny")) {
            ConfigException e = assertThrows(ConfigException.class, () -> scheduler(SD + ", \"variance_type\": \"" + v + "\"}"));
            assertTrue(e.getMessage().contains("test/scheduler_config.json") && e.getMessage().contains("variance_type")
                    && e.getMessage().contains("fixed_small"), e.getMessage());
        }
    }

    /** The plug-in path: ServiceLoader finds it, and --scheduler DDPMScheduler builds it from tiny-sd's DDIM config (from_config). */
    @Test
    void foundByServiceLoaderAndBuiltFromAnotherClassesConfig() {
        Registry r = Registry.discover();
        assertInstanceOf(DdpmSchedulerProvider.class, r.schedulers().get("DDPMScheduler"));
        ModelFolder tinySd = ModelFolder.open(Fixtures.model("tiny-sd"));
        SchedulerFactory ddpm = r.scheduler("DDPMScheduler", tinySd.config("scheduler", "scheduler_config.json"));
        SchedulerFactory ddim = r.scheduler(tinySd);
        assertEquals("DDPMScheduler", ddpm.className());
        assertEquals(ddim.noiseScheduleDigest(), ddpm.noiseScheduleDigest(), "same training betas");
        assertTrue(ddpm.dpmEncoding().isPresent());
        assertInstanceOf(DdpmScheduler.class, ddpm.create(SamplerOptions.DEFAULT));
    }
}
