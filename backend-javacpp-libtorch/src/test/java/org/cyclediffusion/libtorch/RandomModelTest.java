package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The random-model writer. Writing the full-size folders takes ~20 s and 5 GB (the bench does it),
 * so these tests drive the same code with the tiny fixtures' configs as the reference: the folder
 * must load through the real loader and LibTorch (every name and shape checked) and edit to finite
 * images the random safety checker does not flag; the same seed must give the same bytes.
 */
class RandomModelTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** The tiny-sd (and tiny-sd2) networks in the layout of full_size_configs.json. */
    private static ObjectNode tinyReference() throws IOException {
        ObjectNode ref = JSON.createObjectNode();
        Path sd = Fixtures.model("tiny-sd");
        Path sd2 = Fixtures.model("tiny-sd2");
        ref.putObject("sd15_unet").set("config", JSON.readTree(sd.resolve("unet/config.json").toFile()));
        ref.putObject("sd21_unet").set("config", JSON.readTree(sd2.resolve("unet/config.json").toFile()));
        ref.putObject("sd_vae").set("config", JSON.readTree(sd.resolve("vae/config.json").toFile()));
        ref.putObject("sd15_text_encoder").set("config", JSON.readTree(sd.resolve("text_encoder/config.json").toFile()));
        ref.putObject("sd21_text_encoder").set("config", JSON.readTree(sd2.resolve("text_encoder/config.json").toFile()));
        ObjectNode clip = (ObjectNode) JSON.readTree(sd.resolve("safety_checker/config.json").toFile());
        ObjectNode flat = ((ObjectNode) clip.get("vision_config")).deepCopy();
        flat.set("projection_dim", clip.get("projection_dim"));
        ref.putObject("sd_safety_checker").set("config", flat);
        return ref;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sd15", "sd21"})
    void writtenFolderLoadsAndEdits(String arch) throws IOException {
        Path folder = tmp.resolve(arch);
        RandomModel.write(arch, folder, 7, true, tinyReference());
        assertEquals(arch.equals("sd15"), Files.exists(folder.resolve("safety_checker/model.safetensors")), "SD 1.5 only has a checker");
        try (var entries = Files.list(tmp)) {
            assertEquals(1, entries.count(), "no partial folder left beside the model");
        }
        // The safety module is not on this module's class path: the pipeline runs without it, the checker's network is loaded
        // below, and its thresholds are read from the file.
        PipelineLoader.Options options = PipelineLoader.Options.of(folder).withBackend("libtorch").withSafetyChecker(false);
        try (CycleDiffusionPipeline p = new PipelineLoader(Registry.discover()).load(options)) {
            EditResult r = p.edit(EditRequest.builder().image(ImageFiles.read(Fixtures.image("img_a_64x64.png")))
                    .sourcePrompt("An astronaut riding a horse").prompt("An astronaut riding an elephant").numInferenceSteps(10)
                    .strength(0.2).guidanceScale(2).seed(0).outputType(OutputType.NP).build());
            float[] pixels = r.imagesNp().data();
            for (float v : pixels) {
                assertTrue(Float.isFinite(v), "finite output");
            }
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (float v : pixels) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            assertTrue(max > min, "not a constant image");
            assertEquals(arch.equals("sd15"), p.models().safetyModel().isPresent(), "the checker's network loads where the folder has one");
        }
        if (arch.equals("sd15")) {
            try (SafetensorsFile checker = SafetensorsFile.open(folder.resolve("safety_checker/model.safetensors"))) {
                for (String t : new String[] {"concept_embeds_weights", "special_care_embeds_weights"}) {
                    for (float v : checker.floatTensor(t).data()) {
                        assertEquals(1f, v, t + ": a cosine similarity never exceeds 1, so random weights never flag an image");
                    }
                }
            }
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        RandomModel.write("sd15", tmp.resolve("a"), 1, false, tinyReference());
        RandomModel.write("sd15", tmp.resolve("b"), 1, false, tinyReference());
        RandomModel.write("sd15", tmp.resolve("c"), 2, false, tinyReference());
        String unet = "unet/diffusion_pytorch_model.safetensors";
        byte[] a = Files.readAllBytes(tmp.resolve("a").resolve(unet));
        assertArrayEquals(a, Files.readAllBytes(tmp.resolve("b").resolve(unet)));
        assertFalse(Arrays.equals(a, Files.readAllBytes(tmp.resolve("c").resolve(unet))));
    }

    @Test
    void refusesAFolderInUseAndAnUnknownArchitecture() throws IOException {
        Files.createDirectories(tmp.resolve("used"));
        Files.writeString(tmp.resolve("used/keep.txt"), "mine");
        IllegalArgumentException used = assertThrows(IllegalArgumentException.class,
                () -> new RandomModel().write("sd15", tmp.resolve("used"), 0, false));
        assertTrue(used.getMessage().contains("not an empty directory"), used.getMessage());
        assertEquals("mine", Files.readString(tmp.resolve("used/keep.txt")));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> new RandomModel().write("sdxl", tmp.resolve("x"), 0, false));
        assertTrue(unknown.getMessage().contains("[sd15, sd21]"), unknown.getMessage());
    }

    @Test
    void valuesHaveTheStatedMeanAndStandardDeviation() throws IOException {
        assertMoments("down.0.proj.weight", new long[] {256, 1024}, 0, 1 / 32.0);
        assertMoments("mid.norm1.weight", new long[] {100_000}, 1, 0.1);
        assertMoments("mid.proj.bias", new long[] {100_000}, 0, 0.02);
    }

    private static void assertMoments(String name, long[] shape, double mean, double std) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        RandomInit.writeF32(name, shape, 3, bytes);
        float[] v = new float[bytes.size() / 4];
        ByteBuffer.wrap(bytes.toByteArray()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        assertEquals(Arrays.stream(shape).reduce(1, (a, b) -> a * b), v.length);
        double m = 0;
        for (float x : v) {
            m += x;
        }
        m /= v.length;
        double var = 0;
        for (float x : v) {
            var += (x - m) * (x - m);
        }
        double s = Math.sqrt(var / v.length);
        // ~100k-260k samples: the sample mean is within 4 standard errors, the std within 2 %.
        assertEquals(mean, m, 4 * std / Math.sqrt(v.length), name + " mean");
        assertEquals(std, s, 0.02 * std, name + " std");
    }
}
