package org.cyclediffusion.ddim;

import org.cyclediffusion.core.pipeline.Timesteps;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The scheduler half of CycleDiffusion's denoising loop, replayed on the end-to-end goldens with the
 * UNet outputs they recorded: add_noise, then per step guidance, {@code posterior_sample},
 * {@code compute_noise} and the target {@code step}. Every intermediate latent must come out bit
 * for bit. The epsilon cases match diffusers itself; {@code v12_sd2_vpred_fixed} is the corrected
 * v-prediction twin (DESIGN §4), which our {@code recoverNoise} reproduces.
 */
class DdimCycleChainTest {

    @ParameterizedTest
    @ValueSource(strings = {"v01_basic", "v02_no_cfg", "v03_cfg7p5_car", "v04_strength1_sgs2", "v05_strength0p3_50steps_eta1",
        "v06_reconstruction_cfg", "v07_nipp2_cfg_fixed", "v08_two_prompts_two_images", "v10_resize_lanczos_70x60",
        "v11_clip_skip1", "v12_sd2_vpred_fixed", "v13_doc2_100steps"})
    void replaysTheLatentChainBitForBit(String id) {
        try (Golden g = Golden.open("cycle_" + id)) {
            JsonNode call = g.json().get("call");
            ModelFolder model = ModelFolder.open(Fixtures.model(g.json().get("case").get("model").asText()));
            DdimScheduler s = new DdimScheduler(DdimConfig.from(model.config("scheduler", "scheduler_config.json")));
            int n = call.get("num_inference_steps").asInt();
            float eta = (float) call.get("eta").asDouble();
            float guidance = (float) call.get("guidance_scale").asDouble();
            float sourceGuidance = (float) call.get("source_guidance_scale").asDouble();
            boolean cfg = call.get("guidance_scale").asDouble() > 1.0;

            s.setTimesteps(n);
            int[] timesteps = Timesteps.forStrength(s.timesteps(), n, call.get("strength").asDouble());
            assertArrayEquals(ints(g.json().get("timesteps")), timesteps, "timesteps");

            FloatTensor clean = g.f32("clean_latents");
            int batch = clean.dim(0);
            int[] latentTimestep = new int[batch];
            Arrays.fill(latentTimestep, timesteps[0]);
            assertArrayEquals(Arrays.stream(g.i64("latent_timestep")).mapToInt(Math::toIntExact).toArray(), latentTimestep);
            FloatTensor latents = s.addNoise(clean, g.f32("eps_add_noise"), latentTimestep);
            bitwise(g.f32("init_latents"), latents, "init_latents");

            FloatTensor sourceLatents = latents;
            SequenceNoise draws = new SequenceNoise(g.f32("eps_posterior"));
            boolean hasUnet = g.has("step_unet_out");
            for (int i = 0; i < timesteps.length; i++) {
                int t = timesteps[i];
                FloatTensor prevSource = s.posteriorSample(sourceLatents, clean, t, eta, draws);
                bitwise(slice(g.f32("step_source_latents"), i), prevSource, "step " + i + " source latents");
                if (hasUnet) {
                    FloatTensor unetOut = slice(g.f32("step_unet_out"), i);
                    FloatTensor noisePred;
                    FloatTensor sourceNoisePred;
                    if (cfg) {
                        // chunk(4): source-uncond, uncond, source-text, text (B rows each)
                        sourceNoisePred = guide(unetOut.rows(0, batch), unetOut.rows(2 * batch, 3 * batch), sourceGuidance);
                        noisePred = guide(unetOut.rows(batch, 2 * batch), unetOut.rows(3 * batch, 4 * batch), guidance);
                    } else {
                        sourceNoisePred = unetOut.rows(0, batch);
                        noisePred = unetOut.rows(batch, 2 * batch);
                    }
                    FloatTensor z = s.recoverNoise(prevSource, sourceLatents, t, sourceNoisePred, eta);
                    bitwise(slice(g.f32("step_noise"), i), z, "step " + i + " noise z_t");
                    latents = s.step(noisePred, t, latents, eta, z).prevSample();
                    bitwise(slice(g.f32("step_latents"), i), latents, "step " + i + " target latents");
                }
                sourceLatents = prevSource;
            }
            assertEquals(g.f32("eps_posterior").dim(0), draws.next, "every recorded posterior draw used");
            if (hasUnet) {
                bitwise(g.f32("final_latents"), latents, "final_latents");
            }
        }
    }

    /**
     * The uncorrected v-prediction golden records diffusers' {@code compute_noise}, which reads v as
     * ε: our z_t differs from it (by design), while the posterior sample, which does not involve the
     * model, still matches bit for bit.
     */
    @Test
    void departsFromDiffusersNoiseRecoveryForVPrediction() {
        try (Golden g = Golden.open("cycle_v12_sd2_vpred")) {
            ModelFolder model = ModelFolder.open(Fixtures.model("tiny-sd2"));
            DdimScheduler s = new DdimScheduler(DdimConfig.from(model.config("scheduler", "scheduler_config.json")));
            s.setTimesteps(10);
            int t = g.json().get("timesteps").get(0).asInt();
            FloatTensor clean = g.f32("clean_latents");
            FloatTensor source = g.f32("init_latents");
            FloatTensor prevSource = s.posteriorSample(source, clean, t, 0.1f, new SequenceNoise(g.f32("eps_posterior")));
            bitwise(slice(g.f32("step_source_latents"), 0), prevSource, "source latents");
            FloatTensor unetOut = slice(g.f32("step_unet_out"), 0);
            FloatTensor sourcePred = guide(unetOut.rows(0, 1), unetOut.rows(2, 3), 1.0f);
            FloatTensor z = s.recoverNoise(prevSource, source, t, sourcePred, 0.1f);
            float departure = z.maxAbsDiff(slice(g.f32("step_noise"), 0));
            assertTrue(departure > 1.0f, "z_t should differ from diffusers' (v read as ε); max |Δ| = " + departure);
            // and ours is the one that reproduces the source step
            FloatTensor reproduced = s.step(sourcePred, t, source, 0.1f, z).prevSample();
            assertTrue(reproduced.maxAbsDiff(prevSource) < 1e-5f, "step with our z_t lands on the posterior sample");
            FloatTensor withDiffusersZ = s.step(sourcePred, t, source, 0.1f, slice(g.f32("step_noise"), 0)).prevSample();
            assertTrue(withDiffusersZ.maxAbsDiff(prevSource) > 0.1f, "diffusers' z_t does not");
        }
    }

    /** Classifier-free guidance as the pipeline writes it: u + g·(c − u), in float32. */
    private static FloatTensor guide(FloatTensor uncond, FloatTensor text, float scale) {
        float[] u = uncond.data();
        float[] c = text.data();
        float[] out = new float[u.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = u[i] + scale * (c[i] - u[i]);
        }
        return new FloatTensor(out, uncond.shape());
    }

    private static FloatTensor slice(FloatTensor stacked, int i) {
        int[] shape = stacked.shape();
        return stacked.row(i).reshape(Arrays.copyOfRange(shape, 1, shape.length));
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static void bitwise(FloatTensor expected, FloatTensor actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        float[] e = expected.data();
        float[] a = actual.data();
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToIntBits(e[i]) != Float.floatToIntBits(a[i])) {
                throw new AssertionError(what + ": element " + i + " is " + a[i] + ", expected " + e[i]
                        + " (max |Δ| = " + actual.maxAbsDiff(expected) + ")");
            }
        }
    }

    /** Hands out the recorded draws {@code [S', ...]} in order. */
    private static final class SequenceNoise implements NoiseSource {
        private final List<FloatTensor> draws = new ArrayList<>();
        int next;

        SequenceNoise(FloatTensor stacked) {
            for (int i = 0; i < stacked.dim(0); i++) {
                draws.add(slice(stacked, i));
            }
        }

        @Override
        public FloatTensor randn(int... shape) {
            FloatTensor d = draws.get(next++);
            assertArrayEquals(d.shape(), shape, "shape of draw " + (next - 1));
            return d;
        }
    }
}
