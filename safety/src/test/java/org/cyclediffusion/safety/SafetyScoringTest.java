package org.cyclediffusion.safety;

import static org.cyclediffusion.core.testing.TensorAssert.assertAllClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SafetyScoringTest {
    /** Every tiny-sd end-to-end golden (tiny-sd2 has no checker). */
    static Stream<String> tinySdCycles() {
        return Stream.of("cycle_v01_basic", "cycle_v02_no_cfg", "cycle_v03_cfg7p5_car", "cycle_v04_strength1_sgs2",
                "cycle_v05_strength0p3_50steps_eta1", "cycle_v06_reconstruction_cfg", "cycle_v07_nipp2_cfg_batch_bug",
                "cycle_v07_nipp2_cfg_fixed", "cycle_v08_two_prompts_two_images", "cycle_v09_eta0", "cycle_v10_resize_lanczos_70x60",
                "cycle_v11_clip_skip1", "cycle_v13_doc2_100steps");
    }

    private static SafetyScoring scoring() {
        return new SafetyScoring(SafetyConcepts.load(Fixtures.model("tiny-sd").resolve("safety_checker/model.safetensors")));
    }

    private static FloatTensor matrix(float[][] rows) {
        int cols = rows[0].length;
        float[] d = new float[rows.length * cols];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, d, i * cols, cols);
        }
        return new FloatTensor(d, rows.length, cols);
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).doubleValue();
        }
        return out;
    }

    private static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).doubleValue();
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("tinySdCycles")
    void reproducesCosinesScoresAndFlagsOfCycleGoldens(String name) {
        SafetyScoring s = scoring();
        try (Golden g = Golden.open(name)) {
            FloatTensor embeds = g.f32("safety_image_embeds");
            FloatTensor specialCos = matrix(s.specialCareCosines(embeds));
            FloatTensor conceptCos = matrix(s.conceptCosines(embeds));
            assertAllClose(specialCos, g.f32("safety_special_cos"), 0, 2e-7, name + " special_cos");
            assertAllClose(conceptCos, g.f32("safety_concept_cos"), 0, 2e-7, name + " concept_cos");
            System.out.printf("%s: max |Δ| special_cos %.3g, concept_cos %.3g%n", name,
                    specialCos.maxAbsDiff(g.f32("safety_special_cos")), conceptCos.maxAbsDiff(g.f32("safety_concept_cos")));

            JsonNode flags = g.json().get("nsfw_content_detected");
            JsonNode scores = g.json().get("safety_scores");
            List<SafetyVerdict> fromEmbeds = s.score(embeds);
            FloatTensor goldenSpecial = g.f32("safety_special_cos");
            FloatTensor goldenConcept = g.f32("safety_concept_cos");
            for (int i = 0; i < fromEmbeds.size(); i++) {
                SafetyVerdict fromCos = s.score(goldenSpecial.row(i).data(), goldenConcept.row(i).data());
                // The float64 values themselves equal the pipeline's reported scores (numpy 1.24 promotes to float64).
                SafetyScoring.ExactScores exact = s.exactScores(goldenSpecial.row(i).data(), goldenConcept.row(i).data());
                assertArrayEquals(doubles(scores.get(i).get("special_scores")), exact.special(), 0.0, name + " image " + i + " special (float64)");
                assertArrayEquals(doubles(scores.get(i).get("concept_scores")), exact.concept(), 0.0, name + " image " + i + " concept (float64)");
                assertEquals(scores.get(i).get("adjustment").doubleValue(), exact.adjustment(), 0.0, name + " image " + i + " adjustment");
                for (SafetyVerdict v : List.of(fromEmbeds.get(i), fromCos)) {
                    assertEquals(flags.get(i).booleanValue(), v.nsfw(), name + " image " + i + " nsfw");
                    assertArrayEquals(floats(scores.get(i).get("special_scores")), v.specialScores(), name + " image " + i + " special_scores");
                    assertArrayEquals(floats(scores.get(i).get("concept_scores")), v.conceptScores(), name + " image " + i + " concept_scores");
                }
            }
        }
    }

    @Test
    void v05IsFlaggedThroughTheSpecialCareAdjustment() {
        SafetyScoring s = scoring();
        try (Golden g = Golden.open("cycle_v05_strength0p3_50steps_eta1")) {
            assertEquals(0.01, g.json().get("safety_scores").get(0).get("adjustment").doubleValue());
            float[] special = g.f32("safety_special_cos").data();
            float[] concept = g.f32("safety_concept_cos").data();
            SafetyVerdict v = s.score(special, concept);
            assertTrue(v.nsfw());
            assertEquals(0.029f, v.specialScores()[0]);
            // Concept 0 scores 0.039 = round(cos - threshold + 0.01, 3); without the adjustment it would be 0.029.
            double raw = (double) concept[0] - (double) s.concepts().conceptThresholds()[0];
            assertEquals(0.039, SafetyScoring.round3(raw + 0.01));
            assertEquals(0.029, SafetyScoring.round3(raw));
            assertEquals(0.039f, v.conceptScores()[0]);
        }
    }

    @Test
    void v08FlagsOnlyTheSecondImage() {
        try (Golden g = Golden.open("cycle_v08_two_prompts_two_images")) {
            List<SafetyVerdict> v = scoring().score(g.f32("safety_image_embeds"));
            assertFalse(v.get(0).nsfw());
            assertTrue(v.get(1).nsfw());
            assertTrue(v.get(1).conceptScores()[1] > 0, "concept 1 fires");
        }
    }

    @Test
    void reproducesTheComponentGolden() {
        SafetyScoring s = scoring();
        try (Golden g = Golden.open("safety_checker")) {
            assertArrayEquals(g.f32("concept_embeds_weights").data(), s.concepts().conceptThresholds());
            assertArrayEquals(g.f32("special_care_embeds_weights").data(), s.concepts().specialCareThresholds());
            FloatTensor embeds = g.f32("image_embeds");
            assertAllClose(matrix(s.specialCareCosines(embeds)), g.f32("special_cos"), 0, 2e-7, "special_cos");
            assertAllClose(matrix(s.conceptCosines(embeds)), g.f32("concept_cos"), 0, 2e-7, "concept_cos");
            assertEquals(g.json().get("flags_img_a").get(0).booleanValue(), s.score(embeds).get(0).nsfw(), "img_a flag");
        }
    }

    @Test
    void roundingIsNumpysHalfToEvenOnFloat64() {
        // numpy: round(x, 3) = rint(x * 1000) / 1000, so exact halves go to the even neighbour.
        assertEquals(0.0, SafetyScoring.round3(0.0005));
        assertEquals(0.002, SafetyScoring.round3(0.0015));
        assertEquals(-0.0, SafetyScoring.round3(-0.0004));
        assertFalse(SafetyScoring.round3(0.0004) > 0, "a score that rounds to zero does not flag");
    }
}
