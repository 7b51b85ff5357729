package org.cyclediffusion.ddim;

import org.cyclediffusion.core.pipeline.Timesteps;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.spi.StepOutput;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every array and step of golden {@code ddim} (diffusers v0.23.0 {@code DDIMScheduler} and
 * CycleDiffusion's {@code posterior_sample} / {@code compute_noise} on torch 1.13 CPU float32).
 * Every array is reproduced bit for bit (the project's bar is 1e-6; we hold the stricter one since
 * it holds), so {@code ATOL} is 0.
 */
class DdimGoldenTest {
    private static final double ATOL = 0;
    private static Golden golden;
    private static final List<String> REPORT = new ArrayList<>();

    @BeforeAll
    static void open() {
        golden = Golden.open("ddim");
    }

    @AfterAll
    static void close() {
        golden.close();
        REPORT.forEach(System.out::println);
    }

    /** The golden's scheduler config with some fields replaced. */
    static DdimScheduler scheduler(String predictionType, String spacing) {
        ObjectNode node = golden.json().get("config").deepCopy();
        if (predictionType != null) {
            node.put("prediction_type", predictionType);
        }
        if (spacing != null) {
            node.put("timestep_spacing", spacing);
        }
        return new DdimScheduler(DdimConfig.from(new JsonConfig(node, "ddim.json#config")));
    }

    private static int[] ints(long[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Math.toIntExact(values[i]);
        }
        return out;
    }

    /** Asserts |Δ| ≤ ATOL and records max |Δ| and whether the arrays are bit-identical. */
    private static double check(FloatTensor actual, FloatTensor expected, String what) {
        TensorAssert.assertAllClose(actual, expected, 0, ATOL, what);
        double max = TensorAssert.diffStats(actual.data(), expected.data())[0];
        boolean bitwise = true;
        for (int i = 0; i < actual.size(); i++) {
            bitwise &= Float.floatToIntBits(actual.data()[i]) == Float.floatToIntBits(expected.data()[i]);
        }
        REPORT.add(String.format(Locale.ROOT, "%-48s max|Δ| = %.3g%s", what, max, bitwise ? " (bitwise)" : ""));
        return max;
    }

    @Test
    void tablesAreBitIdentical() {
        DdimScheduler s = scheduler(null, null);
        NoiseSchedule ns = s.noiseSchedule();
        FloatTensor betas = new FloatTensor(ns.betas(), 1000);
        FloatTensor alphasCumprod = new FloatTensor(ns.alphasCumprod(), 1000);
        check(betas, golden.f32("betas"), "betas");
        check(alphasCumprod, golden.f32("alphas_cumprod"), "alphas_cumprod");
        assertArrayEquals(golden.f32("betas").data(), betas.data(), 0f, "betas bitwise");
        assertArrayEquals(golden.f32("alphas_cumprod").data(), alphasCumprod.data(), 0f, "alphas_cumprod bitwise");
        assertEquals(golden.f32("final_alpha_cumprod").data()[0], ns.finalAlphaCumprod(), 0f, "final_alpha_cumprod");
    }

    @Test
    void timestepsForEverySpacingAndStrength() {
        for (JsonNode c : golden.json().get("timesteps")) {
            String key = c.get("key").asText();
            int n = c.get("num_inference_steps").asInt();
            double strength = c.get("strength").asDouble();
            DdimScheduler s = scheduler(null, c.get("spacing").asText());
            s.setTimesteps(n);
            assertEquals(n, s.numInferenceSteps());
            assertArrayEquals(ints(golden.i64("timesteps_" + key)), s.timesteps(), "timesteps_" + key);
            int[] run = Timesteps.forStrength(s.timesteps(), n, strength);
            assertArrayEquals(ints(golden.i64("run_timesteps_" + key)), run, "run_timesteps_" + key);
            assertEquals(c.get("num_steps_run").asInt(), run.length, key + " steps run");
            assertEquals(c.get("t_start").asInt(), n - run.length, key + " t_start");
        }
    }

    @Test
    void getVariance() {
        DdimScheduler s = scheduler(null, null);
        s.setTimesteps(50);
        int[] t = ints(golden.i64("variance_n50_t"));
        int[] prev = ints(golden.i64("variance_n50_prev"));
        float[] v = new float[t.length];
        for (int i = 0; i < t.length; i++) {
            assertEquals(prev[i], s.prevTimestep(t[i]));
            v[i] = s.variance(t[i], prev[i]);
        }
        check(new FloatTensor(v, v.length), golden.f32("variance_n50"), "variance_n50");
        assertArrayEquals(golden.f32("variance_n50").data(), v, 0f, "variance bitwise");
    }

    @Test
    void stepForEveryPredictionTypeStepCountTimestepAndEta() {
        FloatTensor modelOutput = golden.f32("step_model_output");
        FloatTensor sample = golden.f32("step_sample");
        FloatTensor noise = golden.f32("step_variance_noise");
        int cases = 0;
        for (JsonNode c : golden.json().get("step")) {
            String key = c.get("key").asText();
            DdimScheduler s = scheduler(c.get("prediction_type").asText(), null);
            s.setTimesteps(c.get("num_inference_steps").asInt());
            int t = c.get("timestep").asInt();
            assertTrue(contains(s.timesteps(), t), key + ": timestep in the schedule");
            float eta = (float) c.get("eta").asDouble();
            FloatTensor z = c.get("variance_noise").asBoolean() ? noise : null;
            StepOutput out = s.step(modelOutput, t, sample, eta, z);
            check(out.prevSample(), golden.f32(key + "_prev_sample"), key + "_prev_sample");
            check(out.predOriginalSample(), golden.f32(key + "_pred_original_sample"), key + "_pred_original_sample");
            cases++;
        }
        assertEquals(36, cases);
    }

    @Test
    void addNoiseAtFourTimesteps() {
        DdimScheduler s = scheduler(null, null);
        FloatTensor x0 = golden.f32("add_noise_x0");
        FloatTensor eps = golden.f32("add_noise_noise");
        for (int t : new int[] {1, 501, 801, 999}) {
            check(s.addNoise(x0, eps, new int[] {t, t}), golden.f32("add_noise_t" + t), "add_noise_t" + t);
        }
    }

    @Test
    void addNoiseTakesOneTimestepPerRow() {
        DdimScheduler s = scheduler(null, null);
        FloatTensor x0 = golden.f32("add_noise_x0");
        FloatTensor eps = golden.f32("add_noise_noise");
        FloatTensor mixed = s.addNoise(x0, eps, new int[] {1, 999});
        assertArrayEquals(golden.f32("add_noise_t1").row(0).data(), mixed.row(0).data(), 0f);
        assertArrayEquals(golden.f32("add_noise_t999").row(1).data(), mixed.row(1).data(), 0f);
    }

    @Test
    void posteriorSampleAndComputeNoiseOfThePipeline() {
        FloatTensor latents = golden.f32("dpm_latents");
        FloatTensor clean = golden.f32("dpm_clean_latents");
        FloatTensor noisePred = golden.f32("dpm_noise_pred");
        int cases = 0;
        for (JsonNode c : golden.json().get("dpm")) {
            String key = c.get("key").asText();
            DdimScheduler s = scheduler(null, null);
            s.setTimesteps(50);
            int t = c.get("timestep").asInt();
            float eta = (float) c.get("eta").asDouble();
            assertEquals(c.get("prev_timestep").asInt(), s.prevTimestep(t), key);
            boolean returnsClean = c.get("posterior_returns_clean_latents").asBoolean();
            RecordedNoise draws = new RecordedNoise(returnsClean ? null : golden.f32(key + "_posterior_eps"));
            FloatTensor posterior = s.posteriorSample(latents, clean, t, eta, draws);
            assertEquals(returnsClean ? 0 : 1, draws.calls, key + ": number of draws");
            assertFalse(golden.has(key + "_posterior_eps") && returnsClean, key);
            check(posterior, golden.f32(key + "_posterior_sample"), key + "_posterior_sample");
            FloatTensor z = s.recoverNoise(posterior, latents, t, noisePred, eta);
            check(z, golden.f32(key + "_compute_noise"), key + "_compute_noise");
            cases++;
        }
        assertEquals(8, cases);
    }

    private static boolean contains(int[] xs, int x) {
        for (int v : xs) {
            if (v == x) {
                return true;
            }
        }
        return false;
    }

    /** A noise source that hands out one recorded draw, checking its shape, and counts calls. */
    static final class RecordedNoise implements NoiseSource {
        private final FloatTensor draw;
        int calls;

        RecordedNoise(FloatTensor draw) {
            this.draw = draw;
        }

        @Override
        public FloatTensor randn(int... shape) {
            calls++;
            if (draw == null || calls > 1) {
                throw new AssertionError("unexpected random draw of shape " + java.util.Arrays.toString(shape));
            }
            assertArrayEquals(draw.shape(), shape, "shape of the draw");
            return draw.copy();
        }
    }
}
