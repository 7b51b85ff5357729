package org.cyclediffusion.core.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.image.RgbImage;
import org.junit.jupiter.api.Test;

/** Each output row described on its own, and in the AUTOMATIC1111 form other tools read. */
class EditProvenanceTest {
    private static EditProvenance provenance(long seed, int perPrompt) {
        EditRequest r = EditRequest.builder().prompt("an elephant, grey", "a zebra").sourcePrompt("a horse").image(RgbImage.black(70, 60))
                .numInferenceSteps(20).guidanceScale(2).strength(0.8).numImagesPerPrompt(perPrompt).clipSkip(1).build();
        return new EditProvenance("cyclediffusion 0.1.0", "sd15", "onnx cpu fp32", List.of("in.png"), r, seed, true);
    }

    @Test
    void rowsFollowDiffusersOrder() {
        EditProvenance p = provenance(5, 2);
        String[] prompts = {"an elephant, grey", "an elephant, grey", "a zebra", "a zebra"};
        for (int row = 0; row < 4; row++) {
            JsonNode j = p.parameters(row);
            assertEquals(prompts[row], j.get("prompt").asText());
            assertEquals("a horse", j.get("source_prompt").asText());
            assertEquals("in.png", j.get("image").asText());
            assertEquals(row, j.get("index").asInt());
            assertEquals(4, j.get("batch_size").asInt());
        }
    }

    @Test
    void a1111ParametersQuoteWhatWouldBreakTheirParser() {
        Map<String, String> text = provenance(5, 1).pngText(0);
        assertEquals("an elephant, grey\nSteps: 20, Sampler: DDIM, CFG scale: 2, Seed: 5, Size: 64x56, Model: sd15,"
                + " Denoising strength: 0.8, Eta: 0.1, Clip skip: 2, Batch size: 2, Batch pos: 0, Source prompt: a horse,"
                + " Source CFG scale: 1, Version: cyclediffusion 0.1.0", text.get("parameters"));
        EditRequest r = EditRequest.builder().prompt("x").sourcePrompt("a horse, brown: old").image(RgbImage.black(64, 64)).build();
        String quoted = new EditProvenance("t", "m", "b", List.of("i"), r, 0, true).a1111Parameters(0);
        assertTrue(quoted.contains("Source prompt: \"a horse, brown: old\","), quoted);
        assertFalse(text.get("Comment").contains("a zebra"), "row 0 only: " + text.get("Comment"));
    }

    @Test
    void aTwoModelEditNamesBothModels() {
        EditProvenance one = provenance(5, 1);
        assertFalse(one.parameters().has("target_model"));
        assertFalse(one.a1111Parameters(0).contains("Target model"));
        EditProvenance two = one.withTargetModel("org/model-b@v1");
        assertEquals("sd15", two.parameters().get("model").asText());
        assertEquals("org/model-b@v1", two.parameters().get("target_model").asText());
        assertEquals("org/model-b@v1", two.parameters(1).get("target_model").asText());
        assertTrue(two.pngText(0).get("parameters").contains("Model: sd15, Target model: org/model-b@v1, Denoising strength"),
                two.pngText(0).get("parameters"));
    }

    @Test
    void seedsAbove2To63AreWrittenUnsigned() {
        EditProvenance p = provenance(Long.MIN_VALUE, 1);
        assertEquals("9223372036854775808", p.parameters(0).get("seed").asText());
        assertEquals("9223372036854775808", p.parameters().get("seed").asText());
        assertTrue(p.pngText(1).get("parameters").contains("Seed: 9223372036854775808"));
    }
}
