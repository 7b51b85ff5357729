package org.cyclediffusion.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class ModelFolderTest {
    @TempDir
    Path dir;

    private static String failsNaming(Executable call, String... fragments) {
        ConfigException e = assertThrows(ConfigException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message should contain '" + f + "': " + e.getMessage());
        }
        return e.getMessage();
    }

    @Test
    void tinySdDeclaresItsSafetyCheckerAndTinySd2DeclaresNone() {
        ModelFolder sd = ModelFolder.open(Fixtures.model("tiny-sd"));
        assertEquals(Optional.of(List.of("stable_diffusion", "StableDiffusionSafetyChecker")), sd.declared("safety_checker"));
        assertEquals(Optional.of(List.of("diffusers", "UNet2DConditionModel")), sd.declared("unet"));
        assertTrue(sd.modelIndex().getBoolean("requires_safety_checker", false));

        ModelFolder sd2 = ModelFolder.open(Fixtures.model("tiny-sd2"));
        assertEquals(Optional.empty(), sd2.declared("safety_checker"), "[null, null] means the component was saved as None");
        assertFalse(sd2.modelIndex().getBoolean("requires_safety_checker", true));
        assertEquals(Optional.empty(), sd2.declared("image_encoder"), "absent component");
        assertTrue(sd2.modelIndex().getStringList("safety_checker").orElseThrow().stream().allMatch(s -> s == null));
    }

    @Test
    void componentsFilesAndConfigs() {
        ModelFolder sd = ModelFolder.open(Fixtures.model("tiny-sd"));
        assertTrue(sd.root().isAbsolute());
        assertEquals(sd.root().resolve("unet"), sd.component("unet"));
        assertTrue(sd.hasFile("unet", "diffusion_pytorch_model.safetensors"));
        assertFalse(sd.hasFile("unet", "model.onnx"));
        assertEquals(sd.root().resolve("vae/config.json"), sd.requireFile("vae", "config.json"));
        assertEquals(4, sd.config("unet", "config.json").getInt("in_channels", 0));
        assertEquals(sd.root().toString(), sd.toString());
    }

    @Test
    void requireFileSaysWhichComponentOfWhichFolderNeedsIt() {
        ModelFolder sd2 = ModelFolder.open(Fixtures.model("tiny-sd2"));
        Path expected = sd2.root().resolve("safety_checker").resolve("model.safetensors");
        String m = failsNaming(() -> sd2.requireFile("safety_checker", "model.safetensors"),
                expected.toString(), "file not found", "the safety_checker component of " + sd2.root());
        assertTrue(m.startsWith(expected.toString()), m);
        failsNaming(() -> sd2.config("unet", "absent.json"), sd2.root().resolve("unet/absent.json").toString(), "file not found");
    }

    @Test
    void openFailsClearlyForMissingFoldersFilesAndIndexes() throws IOException {
        failsNaming(() -> ModelFolder.open(dir.resolve("absent")), "absent", "model folder not found", "model_index.json");
        Path file = Files.writeString(dir.resolve("model.safetensors"), "x");
        failsNaming(() -> ModelFolder.open(file), file.toString(), "not a directory");
        Path noIndex = Files.createDirectory(dir.resolve("no-index"));
        Files.createDirectory(noIndex.resolve("unet"));
        failsNaming(() -> ModelFolder.open(noIndex), noIndex.toString(), "no model_index.json");
        Path badIndex = Files.createDirectory(dir.resolve("bad-index"));
        Files.writeString(badIndex.resolve("model_index.json"), "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"");
        failsNaming(() -> ModelFolder.open(badIndex), badIndex.resolve("model_index.json").toString(), "not valid JSON");
    }

    @Test
    void malformedDeclarationNamesIndexAndComponent() throws IOException {
        Path root = Files.createDirectory(dir.resolve("odd"));
        Files.writeString(root.resolve("model_index.json"),
                "{\"unet\": \"UNet2DConditionModel\", \"vae\": [\"diffusers\", 3], \"text_encoder\": [\"transformers\"], \"safety_checker\": null}");
        ModelFolder f = ModelFolder.open(root);
        failsNaming(() -> f.declared("unet"), "model_index.json: unet must be a list of strings");
        failsNaming(() -> f.declared("vae"), "model_index.json: vae must be a list of strings");
        assertEquals(Optional.empty(), f.declared("text_encoder"), "not a [library, class] pair");
        assertEquals(Optional.empty(), f.declared("safety_checker"), "null is 'not saved' too");
    }
}
