package org.cyclediffusion.core.conformance;

import static org.cyclediffusion.core.testing.TensorAssert.assertAllClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.LatentDistribution;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyClassifier;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.spi.SafetyModel;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.spi.Vae;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The component-level parity suite every backend runs (DESIGN §5, level 2): text encoder, UNet and
 * VAE outputs on the tiny fixture models against the diffusers goldens, ≤ 1e-4 absolute in fp32,
 * plus the resource contract of {@link Models}.
 *
 * <p>A backend test extends this class, says how to {@link #open} a fixture model ({@code tiny-sd},
 * {@code tiny-sd2} or {@code tiny-sd-onnx}) in fp32 on the CPU, and which of them it can open
 * ({@link #fixtureModels()}). Capabilities a backend may lack are declared, never skipped silently:
 * a backend without clip skip must reject it with a {@link CycleDiffusionException} that names
 * {@code clip}; a UNet that cannot take 7×10 latents must say so in {@link UNet#checkLatentSize}
 * and in {@link UNet#predict}, and the suite checks the message.
 *
 * <p>Contract checked after {@link Models#close()}: closing twice is harmless, and using a component
 * of closed models fails with an exception whose message contains {@code closed} (never a crash in
 * native code).
 *
 * <p>Goldens: {@code text_encoder_<m>}, {@code unet_<m>}, {@code vae_<m>} with {@code <m>} =
 * {@code tiny_sd} or {@code tiny_sd2} (an ONNX export of {@code tiny-sd} uses the {@code tiny_sd}
 * goldens), and {@code safety_checker} for the model half of the checker.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class BackendConformanceSuite {
    /** Component parity in fp32 (DESIGN §5). Not a knob: a backend that misses it has a bug to find. */
    public static final double ATOL = 1e-4;

    private final Map<String, Models> opened = new LinkedHashMap<>();

    /** Opens a fixture model on the backend under test, fp32, CPU. Each call returns fresh models. */
    protected abstract Models open(String fixtureModel);

    /** The fixture models this backend opens: a subset of {@code tiny-sd}, {@code tiny-sd2}, {@code tiny-sd-onnx}. */
    protected abstract List<String> fixtureModels();

    /** Whether {@code TextEncoder.encode(ids, k > 0)} is implemented for this model. */
    protected boolean supportsClipSkip(String fixtureModel) {
        return true;
    }

    /**
     * Empty when the UNet takes any latent size; otherwise a fragment that the error for 7×10
     * latents must contain (e.g. the sizes that do work).
     */
    protected Optional<String> latentSizeRestriction(String fixtureModel) {
        return Optional.empty();
    }

    /** Whether {@link Models#safetyModel()} must be present; by default when model_index.json declares a checker. */
    protected boolean providesSafetyModel(String fixtureModel) {
        return ModelFolder.open(Fixtures.model(fixtureModel)).declared("safety_checker").isPresent();
    }

    /** {@code tiny_sd} for {@code tiny-sd} and its ONNX export, {@code tiny_sd2} for {@code tiny-sd2}. */
    protected static String goldenSuffix(String fixtureModel) {
        return fixtureModel.replace("-onnx", "").replace('-', '_');
    }

    protected final List<String> models() {
        return fixtureModels();
    }

    /** The models of a fixture, opened once for the whole class and closed after it. */
    protected final Models models(String fixtureModel) {
        return opened.computeIfAbsent(fixtureModel, this::open);
    }

    @AfterAll
    final void closeModels() {
        for (Models m : opened.values()) {
            m.close();
        }
        opened.clear();
    }

    // ---------------------------------------------------------------- text encoder

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void textEncoderLastHiddenState(String model) {
        try (Golden g = Golden.open("text_encoder_" + goldenSuffix(model))) {
            TextEncoder te = models(model).textEncoder();
            FloatTensor expected = g.f32("last_hidden_state");
            assertEquals(expected.dim(2), te.hiddenSize(), "hiddenSize()");
            FloatTensor actual = te.encode(ids(g), 0);
            assertClose(actual, expected, model + " text encoder last_hidden_state (4 prompts)");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void textEncoderRowsDoNotDependOnTheBatch(String model) {
        try (Golden g = Golden.open("text_encoder_" + goldenSuffix(model))) {
            long[][] ids = ids(g);
            FloatTensor expected = g.f32("last_hidden_state");
            for (int i : new int[] {1, 2}) {
                FloatTensor actual = models(model).textEncoder().encode(new long[][] {ids[i]}, 0);
                assertClose(actual, expected.row(i), model + " text encoder prompt " + i + " alone");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void textEncoderClipSkip(String model) {
        try (Golden g = Golden.open("text_encoder_" + goldenSuffix(model))) {
            TextEncoder te = models(model).textEncoder();
            for (int k : new int[] {1, 2}) {
                if (supportsClipSkip(model)) {
                    assertClose(te.encode(ids(g), k), g.f32("clip_skip" + k), model + " text encoder clip_skip=" + k);
                } else {
                    CycleDiffusionException e = assertThrows(CycleDiffusionException.class, () -> te.encode(ids(g), k));
                    assertTrue(e.getMessage().toLowerCase(Locale.ROOT).contains("clip"), "message should name clip skip: " + e.getMessage());
                }
            }
            // clip skip 0 after a clip-skip call is still the last layer (no state leaks between calls)
            assertClose(te.encode(ids(g), 0), g.f32("last_hidden_state"), model + " last_hidden_state after clip skip");
        }
    }

    // ---------------------------------------------------------------- UNet

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void unetMatchesGoldenCases(String model) {
        try (Golden g = Golden.open("unet_" + goldenSuffix(model))) {
            UNet unet = models(model).unet();
            assertEquals(4, unet.inChannels(), "inChannels()");
            for (int i = 0; i < 4; i++) {
                FloatTensor sample = g.f32("case" + i + "_sample");
                assertDoesNotThrow(() -> unet.checkLatentSize(sample.dim(2), sample.dim(3)), "case " + i + " size check");
                FloatTensor expected = g.f32("case" + i + "_out");
                try (Conditioning c = unet.condition(g.f32("case" + i + "_encoder_hidden_states"))) {
                    assertEquals(sample.dim(0), c.batch(), "Conditioning.batch()");
                    FloatTensor actual = unet.predict(sample, timestep(g, i), c);
                    assertClose(actual, expected, model + " UNet case" + i + " " + sample);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void unetOddLatentSize(String model) {
        try (Golden g = Golden.open("unet_" + goldenSuffix(model))) {
            UNet unet = models(model).unet();
            FloatTensor sample = g.f32("case4_sample");
            assertArrayEquals(new int[] {2, 4, 7, 10}, sample.shape());
            try (Conditioning c = unet.condition(g.f32("case4_encoder_hidden_states"))) {
                Optional<String> restriction = latentSizeRestriction(model);
                if (restriction.isEmpty()) {
                    unet.checkLatentSize(7, 10);
                    assertClose(unet.predict(sample, timestep(g, 4), c), g.f32("case4_out"), model + " UNet case4 7x10");
                } else {
                    CycleDiffusionException check = assertThrows(CycleDiffusionException.class, () -> unet.checkLatentSize(7, 10));
                    assertTrue(check.getMessage().contains(restriction.get()), "checkLatentSize message: " + check.getMessage());
                    assertTrue(check.getMessage().contains("7") && check.getMessage().contains("10"),
                            "the message should name the size found: " + check.getMessage());
                    CycleDiffusionException run = assertThrows(CycleDiffusionException.class, () -> unet.predict(sample, timestep(g, 4), c));
                    assertTrue(run.getMessage().contains(restriction.get()), "predict message: " + run.getMessage());
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void unetConditioningIsReusable(String model) {
        // The pipeline prepares the conditioning once and runs every step with it.
        try (Golden g = Golden.open("unet_" + goldenSuffix(model))) {
            UNet unet = models(model).unet();
            try (Conditioning c = unet.condition(g.f32("case1_encoder_hidden_states"))) {
                FloatTensor first = unet.predict(g.f32("case1_sample"), timestep(g, 1), c);
                FloatTensor other = unet.predict(g.f32("case1_sample"), 500, c);
                FloatTensor again = unet.predict(g.f32("case1_sample"), timestep(g, 1), c);
                assertArrayEquals(first.data(), again.data(), model + ": same inputs, same conditioning, different output");
                assertTrue(first.maxAbsDiff(other) > 1e-3, "the timestep must reach the network");
                assertClose(again, g.f32("case1_out"), model + " UNet case1 with a reused conditioning");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void unetRejectsBatchMismatch(String model) {
        try (Golden g = Golden.open("unet_" + goldenSuffix(model))) {
            UNet unet = models(model).unet();
            try (Conditioning c = unet.condition(g.f32("case0_encoder_hidden_states"))) {
                CycleDiffusionException e = assertThrows(CycleDiffusionException.class,
                        () -> unet.predict(g.f32("case1_sample"), 1, c));
                assertTrue(e.getMessage().contains("4") && e.getMessage().contains("1"), "message should give both batches: " + e.getMessage());
            }
        }
    }

    // ---------------------------------------------------------------- VAE

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void vaeEncodeMatchesGoldenPosterior(String model) {
        try (Golden g = Golden.open("vae_" + goldenSuffix(model))) {
            Vae vae = models(model).vae();
            assertEquals(0.18215f, vae.scalingFactor(), "scalingFactor()");
            assertEquals(8, vae.scaleFactor(), "scaleFactor()");
            for (String img : new String[] {"img_a", "img_b", "rand2"}) {
                LatentDistribution d = vae.encode(g.f32("enc_" + img + "_input"));
                assertClose(d.mean(), g.f32("enc_" + img + "_mean"), model + " VAE encode " + img + " mean");
                assertClose(d.logvar(), g.f32("enc_" + img + "_logvar"), model + " VAE encode " + img + " logvar");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void vaeDecodeMatchesGolden(String model) {
        try (Golden g = Golden.open("vae_" + goldenSuffix(model))) {
            Vae vae = models(model).vae();
            for (String z : new String[] {"z1", "z2"}) {
                assertClose(vae.decode(g.f32("dec_" + z + "_input")), g.f32("dec_" + z + "_out"), model + " VAE decode " + z);
            }
        }
    }

    // ---------------------------------------------------------------- safety checker (model half)

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void safetyModel(String model) {
        Optional<SafetyModel> safety = models(model).safetyModel();
        assertEquals(providesSafetyModel(model), safety.isPresent(), model + ": safetyModel() presence");
        assumeTrue(safety.isPresent(), model + " declares no safety checker (model_index.json: [null, null])");
        try (Golden g = Golden.open("safety_checker"); Golden ip = Golden.open("image_processor")) {
            FloatTensor pixelValues = g.f32("pixel_values");
            if (safety.get() instanceof SafetyEmbedder e) {
                assertClose(e.imageEmbeds(pixelValues), g.f32("image_embeds"), model + " safety image_embeds");
            } else if (safety.get() instanceof SafetyClassifier c) {
                // img_a is not flagged, img_b is (safety_checker.json, fixtures README "Safety checker (ONNX)").
                // The flags come from clip_input only; `images` just passes through (flagged rows blacked
                // out), so two 64x64 images stand in for the decoded batch.
                FloatTensor images = FloatTensor.cat(nhwc01(ip.f32("img_a_64x64_preprocessed")), nhwc01(ip.f32("img_c_64x64_preprocessed")));
                boolean[] flags = c.flags(pixelValues, images);
                assertArrayEquals(new boolean[] {false, true}, flags, model + " safety flags for img_a, img_b");
            }
        }
    }

    // ---------------------------------------------------------------- resources

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void closeIsIdempotentAndReleases(String model) {
        Models m = open(model);
        TextEncoder te = m.textEncoder();
        UNet unet = m.unet();
        Vae vae = m.vae();
        assertFalse(m.description().isBlank(), "description()");
        Conditioning c = unet.condition(FloatTensor.zeros(1, 77, te.hiddenSize()));
        c.close();
        c.close();
        m.close();
        m.close();
        long[][] ids = new long[1][77];
        for (Runnable use : List.<Runnable>of(
                () -> te.encode(ids, 0),
                () -> unet.condition(FloatTensor.zeros(1, 77, te.hiddenSize())),
                () -> vae.decode(FloatTensor.zeros(1, 4, 8, 8)))) {
            RuntimeException e = assertThrows(RuntimeException.class, use::run);
            assertTrue(String.valueOf(e.getMessage()).contains("closed"), "use after close: " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- helpers

    /** {@link org.cyclediffusion.core.testing.TensorAssert#assertAllClose} at {@link #ATOL}, printing max and mean |Δ| for the record. */
    protected static void assertClose(FloatTensor actual, FloatTensor expected, String what) {
        if (java.util.Arrays.equals(actual.shape(), expected.shape())) {
            double[] d = org.cyclediffusion.core.testing.TensorAssert.diffStats(actual.data(), expected.data());
            System.out.printf(Locale.ROOT, "conformance %-55s max |d| %.3e  mean |d| %.3e%n", what, d[0], d[1]);
        }
        assertAllClose(actual, expected, 0, ATOL, what);
    }

    protected static long[][] ids(Golden g) {
        long[] flat = g.i64("input_ids");
        int[] s = g.shape("input_ids");
        long[][] out = new long[s[0]][s[1]];
        for (int i = 0; i < s[0]; i++) {
            System.arraycopy(flat, i * s[1], out[i], 0, s[1]);
        }
        return out;
    }

    protected static long timestep(Golden g, int unetCase) {
        return g.i64("case" + unetCase + "_timestep")[0];
    }

    /** Preprocessed pixels [1, 3, H, W] in [-1, 1] → clip(x / 2 + 0.5, 0, 1) as [1, H, W, 3], as diffusers' ONNX pipeline feeds the checker. */
    public static FloatTensor nhwc01(FloatTensor pixels) {
        int b = pixels.dim(0);
        int c = pixels.dim(1);
        int h = pixels.dim(2);
        int w = pixels.dim(3);
        float[] in = pixels.data();
        float[] out = new float[in.length];
        for (int n = 0; n < b; n++) {
            for (int ch = 0; ch < c; ch++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        float v = in[((n * c + ch) * h + y) * w + x] / 2f + 0.5f;
                        out[((n * h + y) * w + x) * c + ch] = Math.min(1f, Math.max(0f, v));
                    }
                }
            }
        }
        return new FloatTensor(out, b, h, w, c);
    }
}
