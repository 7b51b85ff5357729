package org.cyclediffusion.ddim;

import static org.cyclediffusion.ddim.DdimSchedulerTest.random;
import static org.cyclediffusion.ddim.DdimSchedulerTest.scheduler;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The DPM-Encoder's defining property (Wu and De la Torre 2022, §3): the recovered noise makes the
 * sampler's own step land exactly on the posterior sample, for every prediction type.
 */
class DdimDpmEncoderTest {
    private static final String SD = DdimSchedulerTest.SD;

    private static NoiseSource gaussian(Random r) {
        return shape -> random(r, shape);
    }

    @ParameterizedTest(name = "{0}, {1} spacing, {2} steps")
    @CsvSource({
        "epsilon, leading, 50", "epsilon, trailing, 10", "epsilon, linspace, 7",
        "v_prediction, leading, 50", "v_prediction, trailing, 10", "v_prediction, linspace, 7",
        "sample, leading, 20", "sample, trailing, 10"})
    void stepWithRecoveredNoiseLandsOnThePosteriorSample(String prediction, String spacing, int steps) {
        DdimScheduler s = scheduler(SD + ", \"prediction_type\": \"" + prediction + "\", \"timestep_spacing\": \"" + spacing + "\"}");
        s.setTimesteps(steps);
        Random r = new Random(prediction.hashCode() * 31L + steps);
        double worst = 0;
        int checked = 0;
        for (int t : s.timesteps()) {
            if (s.prevTimestep(t) < 0 && "linspace".equals(spacing) && t == 0) {
                continue; // t = 0 with ᾱ_prev = ᾱ_0: zero variance, see zeroVarianceRecoversZeroNoise
            }
            for (float eta : new float[] {0.1f, 1.0f}) {
                for (int trial = 0; trial < 3; trial++) {
                    FloatTensor xt = random(r, 2, 4, 8, 8);
                    FloatTensor x0 = random(r, 2, 4, 8, 8);
                    FloatTensor out = random(r, 2, 4, 8, 8);
                    FloatTensor posterior = s.posteriorSample(xt, x0, t, eta, gaussian(r));
                    FloatTensor z = s.recoverNoise(posterior, xt, t, out, eta);
                    assertTrue(z.allFinite(), "finite z at t=" + t);
                    FloatTensor stepped = s.step(out, t, xt, eta, z).prevSample();
                    float d = stepped.maxAbsDiff(posterior);
                    worst = Math.max(worst, d);
                    assertTrue(d <= 1e-5f, prediction + " t=" + t + " eta=" + eta + ": max |Δ| = " + d);
                    checked++;
                }
            }
        }
        assertTrue(checked >= 6 * (steps - 1), "checked " + checked);
        System.out.printf("round trip %s %s n=%d: max |step(z) − posterior| = %.3g over %d cases%n",
                prediction, spacing, steps, worst, checked);
    }

    /**
     * diffusers' own {@code compute_noise} reads any model output as ε. For a v-prediction model
     * that noise does not reproduce the posterior sample (the defect our recoverNoise corrects).
     */
    @Test
    void diffusersNoiseRecoveryFailsForVPrediction() {
        DdimScheduler s = scheduler(SD + ", \"prediction_type\": \"v_prediction\"}");
        s.setTimesteps(50);
        Random r = new Random(7);
        int t = 501;
        float eta = 0.1f;
        FloatTensor xt = random(r, 1, 4, 8, 8);
        FloatTensor x0 = random(r, 1, 4, 8, 8);
        FloatTensor v = random(r, 1, 4, 8, 8);
        FloatTensor posterior = s.posteriorSample(xt, x0, t, eta, gaussian(r));
        FloatTensor diffusersZ = diffusersComputeNoise(s, posterior, xt, t, v, eta);
        float diffusersMiss = s.step(v, t, xt, eta, diffusersZ).prevSample().maxAbsDiff(posterior);
        float ours = s.step(v, t, xt, eta, s.recoverNoise(posterior, xt, t, v, eta)).prevSample().maxAbsDiff(posterior);
        assertTrue(diffusersMiss > 0.1f, "diffusers' z misses by " + diffusersMiss);
        assertTrue(ours <= 1e-5f, "ours misses by " + ours);

        // for ε models the two agree bit for bit
        DdimScheduler e = scheduler(SD + "}");
        e.setTimesteps(50);
        assertArrayEquals(diffusersComputeNoise(e, posterior, xt, t, v, eta).data(), e.recoverNoise(posterior, xt, t, v, eta).data());
    }

    /** pipeline_cycle_diffusion.compute_noise of diffusers v0.23.0, written out in float32 (clip_sample off). */
    private static FloatTensor diffusersComputeNoise(DdimScheduler s, FloatTensor prev, FloatTensor latents, int t,
                                                     FloatTensor noisePred, float eta) {
        int prevT = s.prevTimestep(t);
        float[] ac = s.noiseSchedule().alphasCumprod();
        float alphaProdT = ac[t];
        float alphaProdTPrev = prevT >= 0 ? ac[prevT] : s.noiseSchedule().finalAlphaCumprod();
        float betaProdT = 1 - alphaProdT;
        float variance = s.variance(t, prevT);
        float stdDevT = eta * (float) Math.sqrt(variance);
        float dir = (float) Math.sqrt(1 - alphaProdTPrev - stdDevT * stdDevT);
        float[] out = new float[prev.size()];
        for (int i = 0; i < out.length; i++) {
            float x0 = (latents.data()[i] - (float) Math.sqrt(betaProdT) * noisePred.data()[i]) / (float) Math.sqrt(alphaProdT);
            float direction = dir * noisePred.data()[i];
            out[i] = (prev.data()[i] - ((float) Math.sqrt(alphaProdTPrev) * x0 + direction)) / ((float) Math.sqrt(variance) * eta);
        }
        return new FloatTensor(out, prev.shape());
    }

    @ParameterizedTest
    @ValueSource(floats = {0f, -0.0f, -0.1f, Float.NaN, Float.POSITIVE_INFINITY})
    void etaMustBePositive(float eta) {
        DdimScheduler s = scheduler(SD + "}");
        s.setTimesteps(10);
        FloatTensor x = FloatTensor.zeros(1, 4, 2, 2);
        IllegalArgumentException a = assertThrows(IllegalArgumentException.class, () -> s.recoverNoise(x, x, 501, x, eta));
        assertTrue(a.getMessage().contains("eta = " + eta) && a.getMessage().contains("eta > 0"), a.getMessage());
        NoiseSource never = shape -> {
            throw new AssertionError("no draw for a rejected call");
        };
        assertThrows(IllegalArgumentException.class, () -> s.posteriorSample(x, x, 501, eta, never));
    }

    @Test
    void lastLeadingStepReturnsCleanSampleWithoutDrawing() {
        DdimScheduler s = scheduler(SD + "}");
        s.setTimesteps(10);
        Random r = new Random(3);
        FloatTensor xt = random(r, 1, 4, 2, 2);
        FloatTensor x0 = random(r, 1, 4, 2, 2);
        NoiseSource never = shape -> {
            throw new AssertionError("no draw at the last step");
        };
        FloatTensor out = s.posteriorSample(xt, x0, 1, 0.1f, never);
        assertArrayEquals(x0.data(), out.data());
        assertNotSame(x0.data(), out.data(), "a copy, so callers may write to it");
        // t = 11 would step to prev 1 > 0: a draw is made
        int[] draws = {0};
        s.posteriorSample(xt, x0, 101, 0.1f, shape -> {
            draws[0]++;
            return random(r, shape);
        });
        assertEquals(1, draws[0]);
    }

    @Test
    void rejectsMismatchedShapes() {
        DdimScheduler s = scheduler(SD + "}");
        s.setTimesteps(10);
        FloatTensor a = FloatTensor.zeros(1, 4, 2, 2);
        FloatTensor b = FloatTensor.zeros(2, 4, 2, 2);
        assertThrows(IllegalArgumentException.class, () -> s.posteriorSample(a, b, 501, 0.1f, shape -> FloatTensor.zeros(shape)));
        assertThrows(IllegalArgumentException.class, () -> s.recoverNoise(a, b, 501, a, 0.1f));
        assertThrows(IllegalArgumentException.class, () -> s.recoverNoise(a, a, 501, b, 0.1f));
    }

    /**
     * With set_alpha_to_one the last leading step lands on ᾱ = 1 with zero variance: the step ignores
     * its noise, so z = 0 reproduces it. diffusers divides by zero there (inf, then NaN in the step).
     */
    @Test
    void zeroVarianceRecoversZeroNoise() {
        DdimScheduler s = scheduler("{\"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012,"
                + " \"clip_sample\": false, \"set_alpha_to_one\": true, \"steps_offset\": 1}");
        s.setTimesteps(50);
        assertEquals(0f, s.variance(1, s.prevTimestep(1)));
        Random r = new Random(5);
        FloatTensor xt = random(r, 1, 4, 2, 2);
        FloatTensor x0 = random(r, 1, 4, 2, 2);
        FloatTensor out = random(r, 1, 4, 2, 2);
        FloatTensor posterior = s.posteriorSample(xt, x0, 1, 0.1f, shape -> {
            throw new AssertionError();
        });
        FloatTensor z = s.recoverNoise(posterior, xt, 1, out, 0.1f);
        assertArrayEquals(new float[z.size()], z.data());
        FloatTensor stepped = s.step(out, 1, xt, 0.1f, z).prevSample();
        assertTrue(stepped.allFinite());
        assertArrayEquals(s.step(out, 1, xt, 0.1f, null).prevSample().data(), stepped.data());
    }
}
