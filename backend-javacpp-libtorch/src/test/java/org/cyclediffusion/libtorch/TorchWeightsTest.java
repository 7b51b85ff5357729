package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What loading refuses, and how it says so: pickle weights, a missing tensor, a wrong shape, config values we do not implement. */
class TorchWeightsTest {
    @TempDir
    Path tmp;

    private static ConfigException openFails(ModelFolderCopy copy) {
        return assertThrows(ConfigException.class,
                () -> new TorchBackendProvider().open(ModelFolder.open(copy.root()), Device.CPU, DType.FLOAT32).close());
    }

    @Test
    void pickleWeightsAreRefusedWithTheConversionCommand() {
        ModelFolderCopy copy = ModelFolderCopy.of("tiny-sd", tmp);
        copy.replace("text_encoder", "model.safetensors", "pytorch_model.bin");
        ConfigException e = openFails(copy);
        assertTrue(e.getMessage().startsWith(copy.file("text_encoder", "pytorch_model.bin").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("save_pretrained('" + copy.root().toAbsolutePath().normalize() + "', safe_serialization=True)"),
                e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), "one line: " + e.getMessage());
    }

    @Test
    void missingTensorIsNamedWithTheFile() {
        ModelFolderCopy copy = ModelFolderCopy.of("tiny-sd", tmp);
        Map<String, long[]> edit = new HashMap<>();
        edit.put("decoder.mid_block.attentions.0.to_k.bias", null);
        copy.rewriteSafetensors("vae", "diffusion_pytorch_model.safetensors", edit);
        ConfigException e = openFails(copy);
        assertTrue(e.getMessage().startsWith(copy.file("vae", "diffusion_pytorch_model.safetensors").toString()), e.getMessage());
        assertTrue(e.getMessage().contains("1 missing tensor(s) [decoder.mid_block.attentions.0.to_k.bias]"), e.getMessage());
    }

    @Test
    void unexpectedTensorIsNamed() {
        ModelFolderCopy copy = ModelFolderCopy.of("tiny-sd", tmp);
        // A config with 4 layers over a file with 5: layer 4's tensors are unexpected.
        copy.editConfig("text_encoder", c -> c.put("num_hidden_layers", 4));
        ConfigException e = openFails(copy);
        assertTrue(e.getMessage().contains("16 unexpected tensor(s) [text_model.encoder.layers.4.layer_norm1.bias"), e.getMessage());
    }

    @Test
    void wrongShapeNamesTensorShapesAndFile() {
        ModelFolderCopy copy = ModelFolderCopy.of("tiny-sd", tmp);
        copy.rewriteSafetensors("text_encoder", "model.safetensors",
                Map.of("text_model.encoder.layers.2.self_attn.q_proj.weight", new long[] {16, 64}));
        ConfigException e = openFails(copy);
        assertEquals(copy.file("text_encoder", "model.safetensors") + ": tensor 'text_model.encoder.layers.2.self_attn.q_proj.weight' has"
                + " shape [16, 64], the config implies [32, 32]", e.getMessage());
    }

    @Test
    void unsupportedConfigValueNamesFileFieldAndValue() {
        ModelFolderCopy copy = ModelFolderCopy.of("tiny-sd", tmp);
        copy.editConfig("text_encoder", c -> c.put("hidden_act", "relu"));
        ConfigException e = openFails(copy);
        assertTrue(e.getMessage().startsWith(copy.file("text_encoder", "config.json") + ": hidden_act = \"relu\" is not supported"), e.getMessage());
        assertTrue(e.getMessage().contains("quick_gelu"), e.getMessage());

        ModelFolderCopy vae = ModelFolderCopy.of("tiny-sd2", tmp);
        vae.editConfig("vae", c -> c.putArray("down_block_types").add("DownEncoderBlock2D").add("AttnDownEncoderBlock2D")
                .add("DownEncoderBlock2D").add("DownEncoderBlock2D"));
        ConfigException v = openFails(vae);
        assertTrue(v.getMessage().startsWith(vae.file("vae", "config.json") + ": down_block_types = "), v.getMessage());
        assertTrue(v.getMessage().contains("AttnDownEncoderBlock2D") && v.getMessage().contains("only DownEncoderBlock2D"), v.getMessage());
    }

    @Test
    void legacyVaeAttentionNamesLoad() {
        // Checkpoints saved before diffusers 0.14 name the mid-block attention query/key/value/proj_attn.
        ModelFolderCopy copy = ModelFolderCopy.of("tiny-sd2", tmp);
        TorchContext ctx = TorchContext.open(Device.CPU, DType.FLOAT32);
        FloatTensor latents = FloatTensor.zeros(1, 4, 8, 8);
        FloatTensor expected;
        try (TorchVae vae = TorchVae.load(ModelFolder.open(copy.root()), ctx)) {
            expected = vae.decode(latents);
        }
        copy.renameTensors("vae", "diffusion_pytorch_model.safetensors", Map.of(".to_q.", ".query.", ".to_k.", ".key.", ".to_v.", ".value.",
                ".to_out.0.", ".proj_attn."));
        try (TorchVae vae = TorchVae.load(ModelFolder.open(copy.root()), ctx)) {
            assertEquals(0f, vae.decode(latents).maxAbsDiff(expected));
        }
    }
}
