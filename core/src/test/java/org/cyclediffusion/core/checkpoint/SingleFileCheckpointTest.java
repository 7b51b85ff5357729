package org.cyclediffusion.core.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.io.HalfFloats;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.SafetensorsFile.TensorInfo;
import org.cyclediffusion.core.io.TensorSource;
import org.cyclediffusion.core.spi.PredictionType;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The single-file fixtures (made from the tiny folders by diffusers' own conversion tables, README
 * §10) seen through {@link SingleFileCheckpoint#weights} hold, network by network, exactly the
 * folder's tensors: the same names, shapes and values (fp32 files byte for byte; the fp16 file
 * equal to the folder's weights rounded to half precision).
 */
class SingleFileCheckpointTest {
    private static final String[][] COMPONENTS = {
        {"unet", "diffusion_pytorch_model.safetensors"}, {"vae", "diffusion_pytorch_model.safetensors"},
        {"text_encoder", "model.safetensors"},
    };

    @ParameterizedTest(name = "{0}")
    @CsvSource({"tiny-sd.safetensors, tiny-sd", "tiny-sd2.safetensors, tiny-sd2", "tiny-sd-fp16.safetensors, tiny-sd"})
    void everyConvertedTensorEqualsTheFolders(String file, String model) {
        ModelFolder folder = ModelFolder.open(Fixtures.model(model));
        ModelFolder single = CheckpointFolders.open(Fixtures.root().resolve("single-file").resolve(file), folder.root(), false, null);
        for (String[] c : COMPONENTS) {
            try (SafetensorsFile expected = SafetensorsFile.open(folder.component(c[0]).resolve(c[1]));
                    TensorSource actual = single.weights(c[0], c[1])) {
                TreeSet<String> want = new TreeSet<>(expected.tensors().keySet());
                want.removeIf(n -> n.endsWith("position_ids"));
                TreeSet<String> missing = new TreeSet<>(want);
                missing.removeAll(actual.tensors().keySet());
                TreeSet<String> extra = new TreeSet<>(actual.tensors().keySet());
                extra.removeAll(want);
                assertEquals("missing [] extra []", "missing " + missing + " extra " + extra, file + " " + c[0] + ": names");
                for (String name : want) {
                    TensorInfo e = expected.info(name);
                    TensorInfo a = actual.info(name);
                    assertArrayEquals(e.shape(), a.shape(), file + " " + name + ": shape");
                    assertValuesEqual(file + " " + name, e, expected.buffer(name), a, actual.buffer(name));
                }
            }
        }
    }

    private static void assertValuesEqual(String what, TensorInfo e, ByteBuffer eb, TensorInfo a, ByteBuffer ab) {
        assertEquals(SafetensorsDType.F32, e.dtype(), what);
        if (a.dtype() == SafetensorsDType.F32) {
            assertEquals(eb, ab, what + ": bytes");
            return;
        }
        assertEquals(SafetensorsDType.F16, a.dtype(), what);
        int n = (int) e.numel();
        for (int i = 0; i < n; i++) {
            short want = HalfFloats.floatToHalf(eb.getFloat(4 * i));
            if (want != ab.getShort(2 * i)) {
                throw new AssertionError(what + "[" + i + "]: fp16 " + ab.getShort(2 * i) + ", the folder's value rounds to " + want);
            }
        }
    }

    @Test
    void standardFilesGetTheBundledConfigsOfTheirGeneration() {
        ModelFolder f1 = CheckpointFolders.bundled(TextEncoderLayout.CLIP);
        assertEquals(768, f1.config("unet", "config.json").getInt("cross_attention_dim", 0));
        assertEquals("epsilon", f1.config("scheduler", "scheduler_config.json").getString("prediction_type", ""));
        assertTrue(Files.isRegularFile(f1.component("tokenizer").resolve("vocab.json")));
        ModelFolder f2 = CheckpointFolders.bundled(TextEncoderLayout.OPEN_CLIP);
        assertEquals(1024, f2.config("unet", "config.json").getInt("cross_attention_dim", 0));
        assertEquals("v_prediction", f2.config("scheduler", "scheduler_config.json").getString("prediction_type", ""));
        assertEquals(23, f2.config("text_encoder", "config.json").getInt("num_hidden_layers", 0));
    }

    @Test
    void aFileOfOtherSizesIsToldToBringItsConfigs() {
        for (String f : new String[] {"tiny-sd.safetensors", "tiny-sd2.safetensors"}) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> CheckpointFolders.open(Fixtures.root().resolve("single-file").resolve(f), null, false, null));
            assertTrue(e.getMessage().contains("text encoder width 32") && e.getMessage().contains("pass --config"), e.getMessage());
        }
    }

    @Test
    void aSidecarYamlSettlesThePredictionType(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("model.safetensors");
        Files.copy(Fixtures.root().resolve("single-file/tiny-sd2.safetensors"), file);
        Files.writeString(dir.resolve("model.yaml"), "model:\n  params:\n    parameterization: \"v\"\n");
        Path config = Fixtures.model("tiny-sd2");
        assertEquals("v_prediction", CheckpointFolders.open(file, config, false, null).config("scheduler", "scheduler_config.json")
                .getString("prediction_type", ""));
        Files.writeString(dir.resolve("model.yaml"), "model:\n  params:\n    linear_start: 0.00085\n");
        assertEquals("epsilon", CheckpointFolders.open(file, config, false, null).config("scheduler", "scheduler_config.json")
                .getString("prediction_type", ""));
        // The flag wins over the sidecar.
        assertEquals("v_prediction", CheckpointFolders.open(file, config, false, PredictionType.V_PREDICTION)
                .config("scheduler", "scheduler_config.json").getString("prediction_type", ""));
    }

    @Test
    void picklesAreRefusedWithTheConversion(@TempDir Path dir) throws Exception {
        for (String name : new String[] {"v1-5.ckpt", "model.bin", "model.pt"}) {
            Path f = dir.resolve(name);
            Files.write(f, new byte[] {(byte) 0x80, 2}); // never read
            ConfigException e = assertThrows(ConfigException.class, () -> SingleFileCheckpoint.open(f, false));
            assertTrue(e.getMessage().contains("arbitrary code") && e.getMessage().contains("save_file(") && !e.getMessage().contains("\n"),
                    e.getMessage());
        }
    }

    @Test
    void aFileOfAnotherLayoutNamesWhatItHasAndWhatWasExpected() {
        Path unetOnly = Fixtures.model("tiny-sd").resolve("unet/diffusion_pytorch_model.safetensors");
        ConfigException e = assertThrows(ConfigException.class, () -> SingleFileCheckpoint.open(unetOnly, false));
        assertTrue(e.getMessage().contains("model.diffusion_model.*") && e.getMessage().contains("cond_stage_model.model.*")
                && e.getMessage().contains("down_blocks.") && e.getMessage().contains("pass the folder itself"), e.getMessage());
    }

    @Test
    void emaWeightsAreUsedOnlyOnRequest(@TempDir Path dir) {
        Path src = Fixtures.root().resolve("single-file/tiny-sd.safetensors");
        Path withEma = dir.resolve("ema.safetensors");
        CheckpointTestFiles.withEma(src, withEma, 2f, null);
        Path folder = Fixtures.model("tiny-sd");
        float plain = firstFloat(CheckpointFolders.open(withEma, folder, false, null), "conv_out.bias");
        float ema = firstFloat(CheckpointFolders.open(withEma, folder, true, null), "conv_out.bias");
        float stored;
        try (SafetensorsFile st = SafetensorsFile.open(src)) {
            stored = st.floatTensor("model.diffusion_model.out.2.bias").data()[0];
        }
        assertEquals(stored, plain);
        assertEquals(2 * stored, ema);

        Path partial = dir.resolve("partial.safetensors");
        CheckpointTestFiles.withEma(src, partial, 2f, "model.diffusion_model.out.2.bias");
        ConfigException e = assertThrows(ConfigException.class,
                () -> CheckpointFolders.open(partial, folder, true, null).weights("unet", "x.safetensors").close());
        assertTrue(e.getMessage().contains("no EMA tensor 'model_ema.diffusion_modelout2bias'"), e.getMessage());
        ConfigException none = assertThrows(ConfigException.class, () -> SingleFileCheckpoint.open(src, true));
        assertTrue(none.getMessage().contains("no model_ema.*"), none.getMessage());
    }

    private static float firstFloat(ModelFolder f, String name) {
        try (TensorSource unet = f.weights("unet", "diffusion_pytorch_model.safetensors")) {
            return unet.buffer(name).order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
        }
    }
}
