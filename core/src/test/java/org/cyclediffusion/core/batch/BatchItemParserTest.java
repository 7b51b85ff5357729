package org.cyclediffusion.core.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.junit.jupiter.api.Test;

class BatchItemParserTest {
    private static Map<String, Object> required() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("id", "a");
        v.put("image", "a.png");
        v.put("prompt", "p");
        v.put("source_prompt", "s");
        return v;
    }

    @Test
    void absentOptionalFieldsTakeDiffusersDefaults() {
        BatchItem item = BatchItemParser.parse(3, required(), false).item().orElseThrow();
        assertEquals(3, item.line());
        assertEquals(EditRequest.DEFAULT_STRENGTH, item.strength());
        assertEquals(EditRequest.DEFAULT_STEPS, item.numInferenceSteps());
        assertEquals(EditRequest.DEFAULT_GUIDANCE_SCALE, item.guidanceScale());
        assertEquals(EditRequest.DEFAULT_SOURCE_GUIDANCE_SCALE, item.sourceGuidanceScale());
        assertEquals(EditRequest.DEFAULT_ETA, item.eta());
        assertEquals(1, item.numImagesPerPrompt());
        assertNull(item.seed());
        assertNull(item.clipSkip());
        assertEquals("a-1.png", item.outputName(1));
    }

    @Test
    void integralNumbersAreIntegersButFractionsAreNot() {
        Map<String, Object> v = required();
        v.put("num_inference_steps", new BigDecimal("20.0"));
        v.put("seed", 7L);
        assertEquals(20, BatchItemParser.parse(1, v, false).item().orElseThrow().numInferenceSteps());
        v.put("num_inference_steps", new BigDecimal("20.5"));
        assertEquals(List.of("num_inference_steps: expected an integer, found 20.5"), BatchItemParser.parse(1, v, false).problems());
    }

    @Test
    void csvCellsAreParsedAndEmptyOptionalCellsMeanTheDefault() {
        Map<String, Object> v = required();
        v.put("strength", "0.5");
        v.put("seed", "42");
        v.put("clip_skip", "");
        v.put("eta", " 1 ");
        BatchItem item = BatchItemParser.parse(2, v, true).item().orElseThrow();
        assertEquals(0.5, item.strength());
        assertEquals(42L, item.seed());
        assertNull(item.clipSkip());
        assertEquals(1.0, item.eta());
        v.put("strength", "half");
        assertEquals(List.of("strength: expected a finite number, found \"half\""), BatchItemParser.parse(2, v, true).problems());
    }

    @Test
    void everyProblemOfARowIsListed() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("id", "a b");
        v.put("prompt", true);
        v.put("strength", new BigDecimal("0.01"));
        v.put("num_inference_steps", 10L);
        v.put("num_images_per_prompt", 0L);
        v.put("target_model", " ");
        v.put("colour", "red");
        List<String> p = BatchItemParser.parse(1, v, false).problems();
        assertTrue(p.contains("prompt: expected a string, found a boolean (true)"), p.toString());
        assertTrue(p.contains("missing required field \"image\""), p.toString());
        assertTrue(p.contains("missing required field \"source_prompt\""), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("unknown field \"colour\"")), p.toString());
        assertTrue(p.contains("target_model: expected a model folder, found an empty value (leave the field out to use --model)"), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("id \"a b\": expected a safe file-name stem")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("runs no denoising step")), p.toString());
        assertTrue(p.contains("num_images_per_prompt = 0: expected 1 to 1024"), p.toString());
    }
}
