package org.cyclediffusion.ddim;

import org.cyclediffusion.core.pipeline.Timesteps;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.spi.StepOutput;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Behaviour the goldens do not pin down: other schedules, spacings, options and every error. */
class DdimSchedulerTest {
    static DdimScheduler scheduler(String json) {
        return new DdimScheduler(DdimConfig.from(JsonConfig.parse(json, "test/scheduler_config.json")));
    }

    static final String SD = """
            {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "clip_sample": false,
             "set_alpha_to_one": false, "steps_offset": 1""";

    static FloatTensor random(Random r, int... shape) {
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.size(); i++) {
            t.data()[i] = (float) r.nextGaussian();
        }
        return t;
    }

    @Test
    void linearBetasAreTorchLinspace() {
        float[] betas = scheduler("{}").noiseSchedule().betas();
        assertEquals(1000, betas.length);
        assertEquals(0.0001f, betas[0]);
        assertEquals(0.02f, betas[999]);
        for (int i = 0; i < betas.length; i++) {
            double exact = 0.0001 + i * (0.02 - 0.0001) / 999;
            assertEquals(exact, betas[i], 2 * Math.ulp((float) exact), "beta " + i);
        }
    }

    @Test
    void cosineBetasFollowGlide() {
        float[] betas = scheduler("{\"beta_schedule\": \"squaredcos_cap_v2\"}").noiseSchedule().betas();
        for (int i = 0; i < betas.length; i++) {
            double t1 = Math.cos((i / 1000.0 + 0.008) / 1.008 * Math.PI / 2);
            double t2 = Math.cos(((i + 1) / 1000.0 + 0.008) / 1.008 * Math.PI / 2);
            double exact = Math.min(1 - t2 * t2 / (t1 * t1), 0.999);
            assertEquals(exact, betas[i], Math.ulp((float) exact), "beta " + i);
        }
        assertEquals(0.999f, betas[999], "capped at max_beta");
    }

    @Test
    void trainedBetasOverrideTheSchedule() {
        DdimScheduler s = scheduler("{\"num_train_timesteps\": 3, \"trained_betas\": [0.1, 0.2, 0.30000000000000004],"
                + " \"beta_schedule\": \"scaled_linear\", \"set_alpha_to_one\": false}");
        assertArrayEquals(new float[] {0.1f, 0.2f, 0.3f}, s.noiseSchedule().betas());
        float a0 = 1 - 0.1f;
        assertArrayEquals(new float[] {a0, (float) ((double) a0 * (1 - 0.2f)), (float) ((double) a0 * (1 - 0.2f) * (1 - 0.3f))},
                s.noiseSchedule().alphasCumprod());
        assertEquals(a0, s.noiseSchedule().finalAlphaCumprod());
        assertEquals(1.0f, scheduler("{\"num_train_timesteps\": 3, \"trained_betas\": [0.1, 0.2, 0.3]}")
                .noiseSchedule().finalAlphaCumprod(), "set_alpha_to_one");
    }

    @Test
    void zeroTerminalSnrRescaling() {
        DdimScheduler plain = scheduler(SD + "}");
        DdimScheduler rescaled = scheduler(SD + ", \"rescale_betas_zero_snr\": true}");
        float[] ac = rescaled.noiseSchedule().alphasCumprod();
        assertEquals(0.0f, ac[999], "zero SNR at the last timestep (Lin et al. 2023, Algorithm 1)");
        assertEquals(1.0f, rescaled.noiseSchedule().betas()[999]);
        assertEquals(plain.noiseSchedule().alphasCumprod()[0], ac[0], 2e-7f, "first ᾱ kept");
        for (int i = 1; i < ac.length; i++) {
            assertTrue(ac[i] <= ac[i - 1], "monotone at " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(TimestepSpacing.class)
    void everyStepCountGivesDecreasingTimestepsInRange(TimestepSpacing spacing) {
        DdimScheduler s = scheduler("{\"timestep_spacing\": \"" + spacing.configName() + "\"}");
        for (int n = 1; n <= 1000; n++) {
            s.setTimesteps(n);
            int[] ts = s.timesteps();
            assertEquals(n, ts.length, spacing + " n=" + n);
            for (int i = 0; i < n; i++) {
                assertTrue(ts[i] >= 0 && ts[i] < 1000, spacing + " n=" + n + ": " + ts[i]);
                assertTrue(i == 0 || ts[i] < ts[i - 1], spacing + " n=" + n + " decreasing at " + i);
            }
        }
    }

    @Test
    void spacingsOfTenSteps() {
        DdimScheduler s = scheduler(SD + ", \"timestep_spacing\": \"trailing\"}");
        s.setTimesteps(10);
        assertArrayEquals(new int[] {999, 899, 799, 699, 599, 499, 399, 299, 199, 99}, s.timesteps(), "trailing ignores steps_offset");
        s = scheduler(SD + ", \"timestep_spacing\": \"linspace\"}");
        s.setTimesteps(10);
        assertArrayEquals(new int[] {999, 888, 777, 666, 555, 444, 333, 222, 111, 0}, s.timesteps(), "linspace ignores steps_offset");
        s = scheduler(SD + "}");
        s.setTimesteps(10);
        assertArrayEquals(new int[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, s.timesteps());
        s.setTimesteps(1);
        assertArrayEquals(new int[] {1}, s.timesteps());
    }

    /** numpy's arange gives 62 trailing timesteps for 61 steps, the last being −1; we keep diffusers' first 61. */
    @Test
    void trailingDropsNumpysSpuriousLastTimestep() {
        DdimScheduler s = scheduler(SD + ", \"timestep_spacing\": \"trailing\"}");
        s.setTimesteps(61);
        int[] ts = s.timesteps();
        assertEquals(61, ts.length);
        assertArrayEquals(new int[] {999, 983, 966, 950, 933}, Arrays.copyOfRange(ts, 0, 5));
        assertArrayEquals(new int[] {81, 65, 48, 32, 15}, Arrays.copyOfRange(ts, 56, 61));
    }

    @Test
    void setTimestepsRejectsImpossibleCounts() {
        DdimScheduler s = scheduler(SD + "}");
        assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(0));
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(1001));
        assertTrue(tooMany.getMessage().contains("1000"), tooMany.getMessage());
        // leading with steps_offset 1 reaches timestep 1000 at n = 1000 (diffusers fails later with an IndexError)
        IllegalArgumentException offset = assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(1000));
        assertTrue(offset.getMessage().contains("steps_offset 1") && offset.getMessage().contains("1000"), offset.getMessage());
        assertEquals(0, s.numInferenceSteps(), "a rejected call changes nothing");
    }

    @Test
    void beforeSetTimestepsTheScheduleIsEveryTrainingTimestep() {
        DdimScheduler s = scheduler("{\"num_train_timesteps\": 5}");
        assertArrayEquals(new int[] {4, 3, 2, 1, 0}, s.timesteps());
        assertEquals(0, s.numInferenceSteps());
        FloatTensor x = FloatTensor.zeros(1, 2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.step(x, 4, x, 0f, null));
        assertTrue(e.getMessage().contains("setTimesteps"), e.getMessage());
    }

    @Test
    void stepRejectsBadInput() {
        DdimScheduler s = scheduler(SD + "}");
        s.setTimesteps(10);
        FloatTensor x = FloatTensor.zeros(1, 4, 2, 2);
        assertThrows(IllegalArgumentException.class, () -> s.step(FloatTensor.zeros(1, 4, 2, 3), 901, x, 0f, null));
        assertThrows(IllegalArgumentException.class, () -> s.step(x, 901, x, 0.5f, FloatTensor.zeros(4, 2, 2)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.step(x, 1000, x, 0f, null));
        assertTrue(e.getMessage().contains("1000"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.addNoise(x, x, new int[] {1, 2}));
        assertThrows(IllegalArgumentException.class, () -> s.addNoise(x, FloatTensor.zeros(2, 4, 2, 2), new int[] {1}));
    }

    @Test
    void noiseIsAddedOnlyWithEtaAboveZeroAndGivenNoise() {
        DdimScheduler s = scheduler(SD + "}");
        s.setTimesteps(10);
        Random r = new Random(1);
        FloatTensor out = random(r, 1, 4, 2, 2);
        FloatTensor x = random(r, 1, 4, 2, 2);
        FloatTensor z = random(r, 1, 4, 2, 2);
        FloatTensor zeros = FloatTensor.zeros(1, 4, 2, 2);
        assertArrayEquals(s.step(out, 501, x, 0.5f, zeros).prevSample().data(), s.step(out, 501, x, 0.5f, null).prevSample().data());
        assertArrayEquals(s.step(out, 501, x, 0f, null).prevSample().data(), s.step(out, 501, x, 0f, z).prevSample().data(),
                "eta = 0 ignores the noise");
        assertTrue(s.step(out, 501, x, 0.5f, z).prevSample().maxAbsDiff(s.step(out, 501, x, 0.5f, null).prevSample()) > 0.01f);
    }

    @Test
    void clipSampleClampsPredictedOriginal() {
        DdimScheduler s = scheduler("{\"prediction_type\": \"sample\", \"clip_sample\": true, \"clip_sample_range\": 2.0}");
        s.setTimesteps(10);
        FloatTensor out = new FloatTensor(new float[] {-5f, -1.5f, 0.25f, 3f}, 1, 4);
        StepOutput o = s.step(out, 900, FloatTensor.zeros(1, 4), 0f, null);
        assertArrayEquals(new float[] {-2f, -1.5f, 0.25f, 2f}, o.predOriginalSample().data());
    }

    @Test
    void dynamicThresholdingPerRow() {
        DdimScheduler s = scheduler("{\"prediction_type\": \"sample\", \"thresholding\": true,"
                + " \"dynamic_thresholding_ratio\": 0.5, \"sample_max_value\": 2.5}");
        s.setTimesteps(10);
        // row 0: |x| sorted 0.5 1 2 3, quantile 0.5 at rank 1.5 → 1.5 = s; row 1: quantile < 1 → s = 1
        FloatTensor out = new FloatTensor(new float[] {0.5f, -3f, 2f, 1f, 0.1f, 0.2f, -0.3f, 0.4f}, 2, 4);
        StepOutput o = s.step(out, 900, FloatTensor.zeros(2, 4), 0f, null);
        assertArrayEquals(new float[] {0.5f / 1.5f, -1f, 1f, 1f / 1.5f, 0.1f, 0.2f, -0.3f, 0.4f}, o.predOriginalSample().data());
        // a larger quantile is clamped to sample_max_value
        FloatTensor big = new FloatTensor(new float[] {10f, -10f, 10f, 10f}, 1, 4);
        assertArrayEquals(new float[] {1f, -1f, 1f, 1f}, s.step(big, 900, FloatTensor.zeros(1, 4), 0f, null).predOriginalSample().data());
    }

    @Test
    void scaleModelInputIsIdentityAndOrderIsOne() {
        DdimScheduler s = scheduler(SD + "}");
        FloatTensor x = FloatTensor.zeros(1, 4, 2, 2);
        assertSame(x, s.scaleModelInput(x, 501));
        assertEquals(1, s.order());
        assertEquals(1000, s.numTrainTimesteps());
        s.setTimesteps(10);
        int[] ts = s.timesteps();
        ts[0] = -1;
        assertEquals(901, s.timesteps()[0], "timesteps() is a copy");
        assertNotSame(s.noiseSchedule().betas(), s.noiseSchedule().betas());
    }

    @Test
    void strengthSlicing() {
        int[] ts = {901, 801, 701, 601, 501, 401, 301, 201, 101, 1};
        assertArrayEquals(ts, Timesteps.forStrength(ts, 10, 1.0));
        assertArrayEquals(new int[] {701, 601, 501, 401, 301, 201, 101, 1}, Timesteps.forStrength(ts, 10, 0.8));
        assertArrayEquals(new int[] {201, 101, 1}, Timesteps.forStrength(ts, 10, 0.3));
        assertEquals(0, Timesteps.forStrength(ts, 10, 0.05).length, "int(0.5) = 0 steps");
        assertEquals(0, Timesteps.forStrength(ts, 10, 0.0).length);
        int[] secondOrder = {901, 901, 801, 801, 701, 701, 601, 601, 501, 501, 401, 401, 301, 301, 201, 201, 101, 101, 1, 1};
        assertArrayEquals(new int[] {1, 1}, Timesteps.forStrength(secondOrder, 10, 0.1, 2), "order 2 skips t_start·order");
        assertThrows(IllegalArgumentException.class, () -> Timesteps.forStrength(ts, 10, 1.01));
        assertThrows(IllegalArgumentException.class, () -> Timesteps.forStrength(ts, 10, -0.1));
        assertThrows(IllegalArgumentException.class, () -> Timesteps.forStrength(ts, 10, Double.NaN));
    }
}
