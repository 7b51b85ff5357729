package org.cyclediffusion.safety;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Locale;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.GoldenCases;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The checker on, end to end through the LibTorch backend: {@code tiny-sd} loaded by
 * {@link PipelineLoader} with its defaults (its {@code model_index.json} declares
 * {@code StableDiffusionSafetyChecker}; the backend computes the CLIP image embeddings, the safety
 * module scores them in Java), against diffusers v0.23.0, in three layers:
 * <ul>
 *   <li>the embedder on diffusers' own {@code pixel_values}: embeddings and cosines within 2e-6;</li>
 *   <li>the loaded checker on each golden's {@code decoded}: flags and every score equal to the
 *       golden {@code safety_scores}, embeddings and cosines within 2e-6;</li>
 *   <li>whole edits of every visible tiny-sd case: flags, black flagged images, parity of the
 *       others ({@link CheckedOutputs}), cosines within 1e-4 and the scores equal (but where
 *       diffusers' value sits on a rounding boundary).</li>
 * </ul>
 *
 * <p>Not edited: v09 (eta 0) is rejected before any network runs; v07 is matched in its corrected
 * twin; v12 is tiny-sd2, which declares no checker ({@link SafetyPolicyLoaderTest}).
 */
class TorchCheckerEndToEndTest {
    /** Component parity (DESIGN §5). */
    /**
     * Embeddings and cosines of the images diffusers' checker saw (its pixel values, its decodes):
     * measured ≤ 3.6e-7 (embeddings) and ≤ 2.1e-7 (cosines); about 5× that, so a 10× regression fails.
     */
    private static final double COMPONENT = 2e-6;
    /**
     * Cosines after our own edit: the decoded images differ from diffusers' in a few pixels by one
     * 8-bit level, which moves a cosine by up to the measured 6.1e-5 (v04 concept).
     */
    private static final double END_TO_END_COSINE = 1e-4;

    private static CycleDiffusionPipeline pipeline;
    private static SafetyEmbedder embedder;
    private static SafetyScoring scoring;

    @BeforeAll
    static void load() {
        pipeline = new PipelineLoader().load(PipelineLoader.Options.of(Fixtures.model("tiny-sd")));
        embedder = (SafetyEmbedder) pipeline.models().safetyModel().orElseThrow();
        scoring = new SafetyScoring(SafetyConcepts.load(Fixtures.model("tiny-sd").resolve("safety_checker/model.safetensors")));
    }

    @AfterAll
    static void close() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    @Test
    void theLoaderTurnsTheCheckerOnWithTheBackendsEmbedder() {
        assertTrue(pipeline.models().description().startsWith("libtorch"), pipeline.models().description());
        assertTrue(pipeline.safetyChecker().orElseThrow().toString().contains("embedder"), pipeline.safetyChecker().get().toString());
    }

    /**
     * The loaded checker on each golden's own {@code decoded} tensor: its 8-bit rendering is then
     * exactly the image diffusers' feature extractor saw (the golden PNGs), so the scores must be
     * diffusers' to the last digit and the embeddings and cosines within 2e-6.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("org.cyclediffusion.safety.SafetyScoringTest#tinySdCycles")
    void checkerOnTheGoldenDecodeGivesDiffusersScores(String name) {
        try (Golden g = Golden.open(name)) {
            FloatTensor decoded = g.f32("decoded");
            List<SafetyVerdict> verdicts = pipeline.safetyChecker().orElseThrow().check(decoded);
            assertArrayEquals(CheckedOutputs.expectedFlags(g), flags(verdicts), name + " nsfw_content_detected");
            JsonNode scores = g.json().get("safety_scores");
            for (int i = 0; i < verdicts.size(); i++) {
                assertArrayEquals(floats(scores.get(i).get("special_scores")), verdicts.get(i).specialScores(),
                        name + " image " + i + " special-care scores");
                assertArrayEquals(floats(scores.get(i).get("concept_scores")), verdicts.get(i).conceptScores(),
                        name + " image " + i + " concept scores");
            }
            FloatTensor embeds = embedder.imageEmbeds(checker().clipInput(decoded));
            double[] e = compare(name + " safety_image_embeds", embeds, g.f32("safety_image_embeds"));
            double[] s = compare(name + " safety_special_cos", cosines(scoring.specialCareCosines(embeds)), g.f32("safety_special_cos"));
            double[] k = compare(name + " safety_concept_cos", cosines(scoring.conceptCosines(embeds)), g.f32("safety_concept_cos"));
            System.out.printf(Locale.ROOT, "libtorch checker on golden decode %-36s scores equal; max |d| image_embeds %.3e special_cos %.3e"
                    + " concept_cos %.3e%n", name, e[0], s[0], k[0]);
        }
    }

    /**
     * The whole edit: flags, black flagged images and parity of the others ({@link CheckedOutputs});
     * the cosines of what the checker saw within 1e-4 of diffusers'. Our decode is within ~1e-4 of
     * diffusers', so its 8-bit rendering differs in a few pixels by one level (PNG max 1/255), which
     * moves a cosine by up to ~1e-4: a score then equals diffusers' unless diffusers' unrounded
     * {@code cos − threshold + adjustment} lies that close to a rounding boundary of the third
     * decimal, where it may round to the neighbouring value (v04 concept 1 is −0.0434947, v10
     * concept 8 is −1.3264953, both within 6e-6 of the boundary). That exception is the only one allowed.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"v01_basic", "v02_no_cfg", "v03_cfg7p5_car", "v04_strength1_sgs2", "v05_strength0p3_50steps_eta1",
            "v06_reconstruction_cfg", "v07_nipp2_cfg_fixed", "v08_two_prompts_two_images", "v10_resize_lanczos_70x60", "v11_clip_skip1",
            "v13_doc2_100steps"})
    void flagsScoresAndImagesMatchDiffusers(String id) {
        JsonNode c = Golden.caseJson(id);
        assertEquals("tiny-sd", c.get("model").asText(), id);
        CheckedOutputs.DecodedRecorder decoded = new CheckedOutputs.DecodedRecorder();
        EditResult r = pipeline.edit(GoldenCases.request(c).observer(decoded).build());
        try (Golden g = Golden.open("cycle_" + id)) {
            CheckedOutputs.assertMatchesGolden("libtorch", id, g, r, decoded.decoded);
            // What the checker computed on the way: embeddings of the images it saw, and their cosines.
            FloatTensor embeds = embedder.imageEmbeds(checker().clipInput(decoded.decoded));
            float[][] special = scoring.specialCareCosines(embeds);
            float[][] concept = scoring.conceptCosines(embeds);
            double[] e = TensorAssert.diffStats(embeds.data(), g.f32("safety_image_embeds").data());
            double[] s = compare(id + " safety_special_cos", cosines(special), g.f32("safety_special_cos"), END_TO_END_COSINE);
            double[] k = compare(id + " safety_concept_cos", cosines(concept), g.f32("safety_concept_cos"), END_TO_END_COSINE);
            List<SafetyVerdict> verdicts = r.verdicts().orElseThrow();
            JsonNode scores = g.json().get("safety_scores");
            assertEquals(scores.size(), verdicts.size(), id + " verdicts");
            int boundary = 0;
            for (int i = 0; i < verdicts.size(); i++) {
                SafetyScoring.ExactScores ours = scoring.exactScores(special[i], concept[i]);
                assertArrayEquals(toFloats(ours.special()), verdicts.get(i).specialScores(), id + " image " + i + " verdict = its cosines");
                assertArrayEquals(toFloats(ours.concept()), verdicts.get(i).conceptScores(), id + " image " + i + " verdict = its cosines");
                float[] goldenSpecial = g.f32("safety_special_cos").row(i).data();
                float[] goldenConcept = g.f32("safety_concept_cos").row(i).data();
                JsonNode expected = scores.get(i);
                double goldenAdjustment = expected.get("adjustment").asDouble();
                assertEquals(goldenAdjustment, ours.adjustment(), id + " image " + i + " special-care adjustment");
                boundary += scoresAgree(id + " image " + i + " special-care", ours.special(), expected.get("special_scores"), special[i],
                        goldenSpecial, scoring.concepts().specialCareThresholds(), goldenAdjustment);
                boundary += scoresAgree(id + " image " + i + " concept", ours.concept(), expected.get("concept_scores"), concept[i],
                        goldenConcept, scoring.concepts().conceptThresholds(), goldenAdjustment);
            }
            System.out.printf(Locale.ROOT, "libtorch safety %-30s scores equal but %d at a rounding boundary; max |d| image_embeds %.3e"
                    + " special_cos %.3e concept_cos %.3e%n", id, boundary, e[0], s[0], k[0]);
        }
    }

    /**
     * Each of our scores equals diffusers' JSON score, or both unrounded values are within the cosine
     * difference of one rounding boundary and the scores are its two sides. Returns how many were the latter.
     */
    private static int scoresAgree(String what, double[] ours, JsonNode expected, float[] ourCos, float[] goldenCos, float[] thresholds,
            double adjustment) {
        int boundary = 0;
        for (int k = 0; k < ours.length; k++) {
            double e = expected.get(k).asDouble();
            if (ours[k] == e) {
                continue;
            }
            double goldenUnrounded = (double) goldenCos[k] - thresholds[k] + adjustment;
            double ourUnrounded = (double) ourCos[k] - thresholds[k] + adjustment;
            // The two roundings differ by one step; the boundary between them is half a step above the lower.
            double edge = Math.min(ours[k], e) + 5e-4;
            boolean straddles = Math.abs(ourUnrounded - goldenUnrounded) <= END_TO_END_COSINE
                    && Math.abs(Math.abs(ours[k] - e) - 1e-3) < 1e-9
                    && Math.min(goldenUnrounded, ourUnrounded) <= edge && edge <= Math.max(goldenUnrounded, ourUnrounded);
            assertTrue(straddles, String.format(Locale.ROOT, "%s score %d: ours %s, diffusers' %s (unrounded %.7f vs %.7f)", what, k,
                    ours[k], e, ourUnrounded, goldenUnrounded));
            boundary++;
        }
        return boundary;
    }

    /** The embedder alone on the CLIPImageProcessor output diffusers recorded ({@code golden/safety_checker}). */
    @Test
    void embedderMatchesTheGoldenPixelValues() {
        try (Golden g = Golden.open("safety_checker")) {
            FloatTensor embeds = embedder.imageEmbeds(g.f32("pixel_values"));
            double[] e = compare("safety_checker image_embeds", embeds, g.f32("image_embeds"));
            double[] s = compare("safety_checker special_cos", cosines(scoring.specialCareCosines(embeds)), g.f32("special_cos"));
            double[] k = compare("safety_checker concept_cos", cosines(scoring.conceptCosines(embeds)), g.f32("concept_cos"));
            System.out.printf(Locale.ROOT, "libtorch safety_checker pixel_values -> image_embeds max |d| %.3e; special_cos %.3e concept_cos %.3e%n",
                    e[0], s[0], k[0]);
        }
    }

    private static double[] compare(String what, FloatTensor actual, FloatTensor expected) {
        return compare(what, actual, expected, COMPONENT);
    }

    private static double[] compare(String what, FloatTensor actual, FloatTensor expected, double atol) {
        TensorAssert.assertAllClose(actual, expected, 0, atol, what);
        return TensorAssert.diffStats(actual.data(), expected.data());
    }

    private static FloatTensor cosines(float[][] rows) {
        float[] out = new float[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, out, i * rows[i].length, rows[i].length);
        }
        return new FloatTensor(out, rows.length, rows[0].length);
    }

    private static StableDiffusionSafetyChecker checker() {
        return (StableDiffusionSafetyChecker) pipeline.safetyChecker().orElseThrow();
    }

    private static boolean[] flags(List<SafetyVerdict> verdicts) {
        boolean[] out = new boolean[verdicts.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = verdicts.get(i).nsfw();
        }
        return out;
    }

    private static float[] toFloats(double[] d) {
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (float) d[i];
        }
        return out;
    }

    private static float[] floats(JsonNode a) {
        float[] out = new float[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) a.get(i).asDouble();
        }
        return out;
    }
}
