package org.cyclediffusion.safety;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.SafetyChecker;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The three policy paths (declared and present → on; declared but unusable → error; not declared → none). */
class SafetyCheckerFactoryTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private final SafetyCheckerFactory factory = new SafetyCheckerFactory();

    @TempDir
    Path tmp;

    /** A folder with tiny-sd's model_index.json (safety_checker entry replaced) and the listed components copied. */
    private Path folder(String model, String[] safetyEntry, String... components) throws IOException {
        Path src = Fixtures.model(model);
        ObjectNode index = (ObjectNode) MAPPER.readTree(src.resolve("model_index.json").toFile());
        if (safetyEntry != null) {
            ArrayNode a = index.putArray("safety_checker");
            for (String s : safetyEntry) {
                a.add(s);
            }
        }
        Files.writeString(tmp.resolve("model_index.json"), MAPPER.writeValueAsString(index));
        for (String c : components) {
            Path dst = Files.createDirectories(tmp.resolve(c));
            try (var files = Files.list(src.resolve(c))) {
                for (Path f : files.toList()) {
                    Files.copy(f, dst.resolve(f.getFileName()));
                }
            }
        }
        return tmp;
    }

    private static FakeModels embedderFrom(String golden) {
        return new FakeModels(new FakeModels.RecordingEmbedder(pv -> {
            try (Golden g = Golden.open(golden)) {
                return g.f32("safety_image_embeds");
            }
        }));
    }

    private static void assertHowToGetOrTurnOff(ConfigException e) {
        assertTrue(e.getMessage().contains("--no-safety-checker"), e.getMessage());
        assertTrue(e.getMessage().contains("safety_checker"), e.getMessage());
    }

    @Test
    void declaredAndPresentGivesACheckerThatScoresInJava() {
        ModelFolder tinySd = ModelFolder.open(Fixtures.model("tiny-sd"));
        FakeModels models = embedderFrom("cycle_v08_two_prompts_two_images");
        Optional<SafetyChecker> checker = factory.create(tinySd, models);
        assertTrue(checker.isPresent());
        try (Golden g = Golden.open("cycle_v08_two_prompts_two_images"); SafetyChecker c = checker.get()) {
            List<SafetyVerdict> v = c.check(g.f32("decoded"));
            assertEquals(List.of(false, true), v.stream().map(SafetyVerdict::nsfw).toList());
            FakeModels.RecordingEmbedder e = (FakeModels.RecordingEmbedder) models.safetyModel().orElseThrow();
            assertEquals(1, e.calls.size(), "the whole batch in one call");
            assertArrayEquals(new int[] {2, 3, 224, 224}, e.calls.get(0).shape());
            assertEquals(17, v.get(1).conceptScores().length);
        }
    }

    @Test
    void notDeclaredGivesNoChecker() {
        // tiny-sd2 declares [null, null] (and ships a feature_extractor, as SD 2.x does).
        ModelFolder tinySd2 = ModelFolder.open(Fixtures.model("tiny-sd2"));
        assertEquals(Optional.empty(), factory.create(tinySd2, embedderFrom("cycle_v01_basic")));
    }

    @Test
    void noEntryAtAllGivesNoChecker() throws IOException {
        Path dir = folder("tiny-sd", null, "feature_extractor");
        ObjectNode index = (ObjectNode) MAPPER.readTree(dir.resolve("model_index.json").toFile());
        index.remove("safety_checker");
        Files.writeString(dir.resolve("model_index.json"), MAPPER.writeValueAsString(index));
        assertEquals(Optional.empty(), factory.create(ModelFolder.open(dir), new FakeModels(null)));
    }

    @Test
    void declaredButFilesMissingFailsAtLoad() throws IOException {
        Path dir = folder("tiny-sd", null, "feature_extractor");
        ConfigException e = assertThrows(ConfigException.class,
                () -> factory.create(ModelFolder.open(dir), embedderFrom("cycle_v01_basic")));
        assertHowToGetOrTurnOff(e);
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
    }

    @Test
    void optimumOnnxFolderWithoutCheckerFailsWithExportAdvice() throws IOException {
        // optimum copies the source model_index.json (declaring StableDiffusionSafetyChecker) but exports no checker.
        Path dir = folder("tiny-sd-onnx", new String[] {"stable_diffusion", "StableDiffusionSafetyChecker"}, "feature_extractor", "unet");
        ConfigException e = assertThrows(ConfigException.class, () -> factory.create(ModelFolder.open(dir), new FakeModels(null)));
        assertHowToGetOrTurnOff(e);
        assertTrue(e.getMessage().contains("convert_stable_diffusion_checkpoint_to_onnx.py"), e.getMessage());
    }

    @Test
    void declaredButBackendCannotRunItFails() {
        ModelFolder tinySd = ModelFolder.open(Fixtures.model("tiny-sd"));
        ConfigException e = assertThrows(ConfigException.class, () -> factory.create(tinySd, new FakeModels(null)));
        assertHowToGetOrTurnOff(e);
        assertTrue(e.getMessage().contains("fake cpu fp32"), e.getMessage());
    }

    @Test
    void declaredWithoutFeatureExtractorFails() throws IOException {
        Path dir = folder("tiny-sd", null, "safety_checker");
        ConfigException e = assertThrows(ConfigException.class,
                () -> factory.create(ModelFolder.open(dir), embedderFrom("cycle_v01_basic")));
        assertHowToGetOrTurnOff(e);
        assertTrue(e.getMessage().contains("preprocessor_config.json"), e.getMessage());
    }

    @Test
    void unknownCheckerClassFails() throws IOException {
        Path dir = folder("tiny-sd", new String[] {"my_lib", "MyChecker"}, "feature_extractor", "safety_checker");
        ConfigException e = assertThrows(ConfigException.class,
                () -> factory.create(ModelFolder.open(dir), embedderFrom("cycle_v01_basic")));
        assertHowToGetOrTurnOff(e);
        assertTrue(e.getMessage().contains("MyChecker"), e.getMessage());
    }

    @Test
    void onnxCheckerIsAClassifierCalledPerImageAtBatchOne() {
        // tiny-sd-onnx declares ["diffusers", "OnnxRuntimeModel"] with safety_checker/model.onnx.
        ModelFolder onnx = ModelFolder.open(Fixtures.model("tiny-sd-onnx"));
        FakeModels.RecordingClassifier classifier = new FakeModels.RecordingClassifier(false, true);
        SafetyChecker checker = factory.create(onnx, new FakeModels(classifier)).orElseThrow();
        try (Golden g = Golden.open("cycle_v08_two_prompts_two_images")) {
            FloatTensor decoded = g.f32("decoded");
            List<SafetyVerdict> v = checker.check(decoded);
            assertEquals(List.of(false, true), v.stream().map(SafetyVerdict::nsfw).toList());
            assertEquals(0, v.get(1).conceptScores().length, "a classifier gives flags only");
            assertEquals(2, classifier.clipInputs.size());
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(new int[] {1, 3, 224, 224}, classifier.clipInputs.get(i).shape());
                assertArrayEquals(new int[] {1, 64, 64, 3}, classifier.images.get(i).shape());
                // images = clip(decoded / 2 + 0.5, 0, 1) in NHWC, which is the pipeline's np output for an unflagged image
                if (i == 0) {
                    assertArrayEquals(g.f32("image_np").row(0).data(), classifier.images.get(i).data());
                }
            }
            // Per-image clip input equals the batched preprocessing of the same image.
            StableDiffusionSafetyChecker sd = (StableDiffusionSafetyChecker) checker;
            assertArrayEquals(sd.clipInput(decoded).row(1).data(), classifier.clipInputs.get(1).data());
        }
    }

    @Test
    void anEmbedderNeedsTheConceptsFromTheSafetensorsFile() {
        ModelFolder onnx = ModelFolder.open(Fixtures.model("tiny-sd-onnx"));
        ConfigException e = assertThrows(ConfigException.class, () -> factory.create(onnx, embedderFrom("cycle_v01_basic")));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        assertFalse(e.getMessage().isBlank());
    }
}
