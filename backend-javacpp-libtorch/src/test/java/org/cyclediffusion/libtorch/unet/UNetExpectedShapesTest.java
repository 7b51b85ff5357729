package org.cyclediffusion.libtorch.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.TreeSet;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link UNet2DConditionModel#expectedShapes} against real state dicts and diffusers' parameter counts. */
class UNetExpectedShapesTest {

    /** Same names and shapes as the state dict diffusers saved for the tiny models. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-sd", "tiny-sd2"})
    void tinyModelsStateDictsMatch(String model) {
        Map<String, long[]> expected = UNet2DConditionModel.expectedShapes(JsonConfig.read(Fixtures.model(model).resolve("unet/config.json")));
        try (SafetensorsFile st = SafetensorsFile.open(Fixtures.model(model).resolve("unet/diffusion_pytorch_model.safetensors"))) {
            assertEquals(new TreeSet<>(st.tensors().keySet()), new TreeSet<>(expected.keySet()), model + ": parameter names");
            for (Map.Entry<String, long[]> e : expected.entrySet()) {
                assertArrayEquals(st.info(e.getKey()).shape(), e.getValue(), model + ": " + e.getKey());
            }
        }
    }

    /** SD v1.4/v1.5: 859,520,964 parameters; SD v2.1: 865,910,724 (diffusers' count, in the reference file). */
    @ParameterizedTest
    @ValueSource(strings = {"sd15_unet", "sd21_unet"})
    void fullSizeParameterCounts(String key) {
        Map<String, long[]> shapes = UNet2DConditionModel.expectedShapes(FullSizeConfigs.config(key));
        long total = 0;
        for (long[] shape : shapes.values()) {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            total += n;
        }
        assertEquals(FullSizeConfigs.parameterCount(key), total, key + " parameter count");
        assertEquals(key.equals("sd15_unet") ? 859_520_964L : 865_910_724L, total, key);
        assertEquals(686, shapes.size(), key + " tensor count"); // SD 1.x and 2.x UNets both store 686 tensors
    }
}
