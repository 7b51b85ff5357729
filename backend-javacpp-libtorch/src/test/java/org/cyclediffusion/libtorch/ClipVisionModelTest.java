package org.cyclediffusion.libtorch;

import static org.cyclediffusion.core.testing.TensorAssert.assertAllClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.cyclediffusion.libtorch.layers.Activation;
import org.junit.jupiter.api.Test;

/** The safety checker's CLIP vision tower + visual_projection against transformers 4.35 (safety_checker golden). */
class ClipVisionModelTest {
    @Test
    void imageEmbedsMatchTransformers() {
        TorchContext ctx = TorchContext.open(Device.CPU, DType.FLOAT32);
        try (TorchSafetyEmbedder embedder = TorchSafetyEmbedder.load(ModelFolder.open(Fixtures.model("tiny-sd")), ctx);
                Golden g = Golden.open("safety_checker")) {
            FloatTensor actual = embedder.imageEmbeds(g.f32("pixel_values"));
            FloatTensor expected = g.f32("image_embeds");
            System.out.printf("safety image_embeds: max |Δ| = %.3g%n", TensorAssert.diffStats(actual.data(), expected.data())[0]);
            assertAllClose(actual, expected, 0, 2e-6, "safety image_embeds"); // measured 3.6e-7
            CycleDiffusionException e = assertThrows(CycleDiffusionException.class, () -> embedder.imageEmbeds(FloatTensor.zeros(1, 3, 64, 64)));
            assertTrue(e.getMessage().contains("224"), e.getMessage());
        }
    }

    @Test
    void visionConfigTakesClipVisionDefaultsForWhatTheFileLeavesOut() {
        ClipVisionConfig c = ClipVisionConfig.read(JsonConfig.read(Fixtures.model("tiny-sd").resolve("safety_checker/config.json")));
        // Present in the file:
        assertEquals(32, c.hiddenSize());
        assertEquals(37, c.intermediateSize());
        assertEquals(3, c.numLayers());
        assertEquals(4, c.numHeads());
        assertEquals(16, c.projectionDim());
        // Absent, so CLIPVisionConfig's defaults:
        assertEquals(224, c.imageSize());
        assertEquals(32, c.patchSize());
        assertEquals(3, c.numChannels());
        assertEquals(Activation.QUICK_GELU, c.activation());
        assertEquals(1e-5, c.layerNormEps());
        assertEquals(50, c.numPositions());
    }

    @Test
    void legacyVisionConfigDictOverridesVisionConfig() {
        // Older transformers saved CLIPConfig with both; 4.35 lets vision_config_dict win.
        ClipVisionConfig c = ClipVisionConfig.read(JsonConfig.parse(
                "{\"vision_config\": {\"hidden_size\": 96, \"patch_size\": 32, \"use_bfloat16\": false},"
                        + " \"vision_config_dict\": {\"patch_size\": 14}, \"projection_dim\": 8}", "safety_checker/config.json"));
        assertEquals(96, c.hiddenSize());
        assertEquals(14, c.patchSize());
        assertEquals(8, c.projectionDim());
        assertEquals(12, c.numLayers(), "CLIPVisionConfig default");
    }
}
