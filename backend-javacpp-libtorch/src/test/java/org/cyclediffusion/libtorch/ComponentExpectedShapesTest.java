package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The expected parameter shapes of the text encoder, the VAE and the safety checker, from their
 * configs: the same names and shapes as the state dicts transformers and diffusers saved for the
 * tiny models, and, for the full-size SD v1.x / v2.1 configs, exactly diffusers' and
 * transformers' parameter counts ({@code sum(p.numel() for p in model.parameters())}).
 */
class ComponentExpectedShapesTest {

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"tiny-sd, text_encoder", "tiny-sd2, text_encoder", "tiny-sd, vae", "tiny-sd2, vae", "tiny-sd, safety_checker"})
    void tinyModelsStateDictsMatch(String model, String component) {
        Path dir = Fixtures.model(model).resolve(component);
        JsonConfig config = JsonConfig.read(dir.resolve("config.json"));
        Map<String, long[]> expected = expectedShapes(component).apply(config);
        Path file = dir.resolve(component.equals("vae") ? "diffusion_pytorch_model.safetensors" : "model.safetensors");
        // the loaders' view of the file: legacy VAE attention names renamed, transformers' position_ids buffer dropped
        UnaryOperator<String> rename = component.equals("vae") ? VaeAttentionBlock::renameLegacy : UnaryOperator.identity();
        Map<String, long[]> stored = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (SafetensorsFile.TensorInfo info : st.tensors().values()) {
                if (!info.name().endsWith("embeddings.position_ids")) {
                    stored.put(rename.apply(info.name()), info.shape());
                }
            }
        }
        assertEquals(new TreeSet<>(stored.keySet()), new TreeSet<>(expected.keySet()), model + " " + component + ": parameter names");
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            assertArrayEquals(e.getValue(), stored.get(e.getKey()), model + " " + component + ": " + e.getKey());
        }
    }

    /**
     * VAE 83,653,863; CLIP text encoders 123,060,480 (SD 1.x, ViT-L/14) and 340,387,840 (SD 2.x,
     * OpenCLIP ViT-H/14 without its last layer); safety checker 303,981,588 (CLIP ViT-L/14 vision
     * tower 303,179,776 + visual_projection 786,432 + concept tensors 15,380).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"sd_vae, 83653863, 248", "sd15_text_encoder, 123060480, 196", "sd21_text_encoder, 340387840, 372",
            "sd_safety_checker, 303981588, 396"})
    void fullSizeParameterCounts(String key, long count, int tensors) {
        Map<String, long[]> shapes = expectedShapes(component(key)).apply(FullSizeComponentConfigs.config(key));
        long total = RandomWeights.parameterCount(shapes);
        System.out.printf("%s: %,d parameters in %d tensors%n", key, total, shapes.size());
        assertEquals(FullSizeComponentConfigs.parameterCount(key), total, key + " parameter count (reference file)");
        assertEquals(count, total, key + " parameter count");
        assertEquals(tensors, shapes.size(), key + " tensor count");
    }

    /** The concept tensors counted above are diffusers' fixed 17 concepts and 3 special-care concepts in projection space. */
    @Test
    void safetyCheckerConceptShapes() {
        Map<String, long[]> shapes = TorchSafetyEmbedder.expectedShapes(FullSizeComponentConfigs.config(FullSizeComponentConfigs.SAFETY_CHECKER));
        assertArrayEquals(new long[] {17, 768}, shapes.get("concept_embeds"));
        assertArrayEquals(new long[] {3, 768}, shapes.get("special_care_embeds"));
        assertArrayEquals(new long[] {17}, shapes.get("concept_embeds_weights"));
        assertArrayEquals(new long[] {3}, shapes.get("special_care_embeds_weights"));
        assertArrayEquals(new long[] {768, 1024}, shapes.get("visual_projection.weight"));
        assertArrayEquals(new long[] {1024, 3, 14, 14}, shapes.get("vision_model.vision_model.embeddings.patch_embedding.weight"));
        assertArrayEquals(new long[] {257, 1024}, shapes.get("vision_model.vision_model.embeddings.position_embedding.weight"));
        assertEquals(TorchSafetyEmbedder.CONCEPT_TENSORS.size() + TorchSafetyEmbedder.embedderShapes(
                ClipVisionConfig.read(FullSizeComponentConfigs.config(FullSizeComponentConfigs.SAFETY_CHECKER))).size(), shapes.size());
    }

    static String component(String key) {
        return key.equals(FullSizeComponentConfigs.VAE) ? "vae"
                : key.equals(FullSizeComponentConfigs.SAFETY_CHECKER) ? "safety_checker" : "text_encoder";
    }

    static Function<JsonConfig, Map<String, long[]>> expectedShapes(String component) {
        return switch (component) {
            case "text_encoder" -> ClipTextModel::expectedShapes;
            case "vae" -> AutoencoderKL::expectedShapes;
            case "safety_checker" -> TorchSafetyEmbedder::expectedShapes;
            default -> throw new IllegalArgumentException(component);
        };
    }
}
