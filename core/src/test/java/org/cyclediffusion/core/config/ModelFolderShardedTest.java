package org.cyclediffusion.core.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.ShardedSafetensors;
import org.cyclediffusion.core.io.TensorSource;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A component saved in shards ({@code save_pretrained(max_shard_size=...)}): found through its
 * index in the plain and the variant naming, read as the same tensors, and chosen against a single
 * file beside it as diffusers (index first) and transformers (single file first) choose.
 */
class ModelFolderShardedTest {
    private static final String UNET = "diffusion_pytorch_model.safetensors";
    private static final String TEXT = "model.safetensors";

    @TempDir
    Path dir;

    private Path copy() {
        Path root = dir.resolve("tiny-sd");
        ModelCopies.copyTree(Fixtures.model("tiny-sd"), root);
        return root;
    }

    /** Every tensor of {@code expected} in {@code actual} with the same dtype, shape and bytes, and no other. */
    private static void assertSameTensors(TensorSource expected, TensorSource actual) {
        assertEquals(expected.tensors().keySet(), actual.tensors().keySet(), actual.describe());
        for (SafetensorsFile.TensorInfo e : expected.tensors().values()) {
            SafetensorsFile.TensorInfo a = actual.info(e.name());
            assertEquals(e.dtype(), a.dtype(), e.name());
            assertArrayEquals(e.shape(), a.shape(), e.name());
            assertEquals(expected.buffer(e.name()), actual.buffer(e.name()), e.name() + " bytes");
        }
    }

    @Test
    void aShardedComponentReadsAsTheSingleFileItWasMadeFrom() {
        Path root = copy();
        Path unetIndex = ModelCopies.shard(root.resolve("unet"), "diffusion_pytorch_model", null, 3);
        ModelCopies.shard(root.resolve("text_encoder"), "model", null, 2);
        ModelFolder sharded = ModelFolder.open(root);
        ModelFolder plain = ModelFolder.open(Fixtures.model("tiny-sd"));
        assertTrue(sharded.hasWeights("unet", UNET) && sharded.hasWeights("text_encoder", TEXT));
        assertEquals(unetIndex, sharded.weightsFile("unet", UNET, true));
        List<Path> files = sharded.weightFiles("unet", UNET);
        assertEquals(4, files.size(), files.toString());
        assertEquals(unetIndex, files.get(0));
        assertEquals(root.resolve("unet/diffusion_pytorch_model-00003-of-00003.safetensors"), files.get(3));
        assertEquals(List.of(plain.root().resolve("vae").resolve(UNET)), plain.weightFiles("vae", UNET));
        for (String[] c : new String[][] {{"unet", UNET}, {"text_encoder", TEXT}}) {
            try (TensorSource expected = plain.weights(c[0], c[1]); TensorSource actual = sharded.weights(c[0], c[1])) {
                assertInstanceOf(ShardedSafetensors.class, actual);
                assertSameTensors(expected, actual);
            }
        }
        assertEquals(List.of(), sharded.variantsPresent(), "shards are not variants");
    }

    @Test
    void variantShardsAreFoundByTheirIndexAndNamedAsAVariant() throws Exception {
        Path root = copy();
        Path unet = root.resolve("unet");
        ModelCopies.writeFp16(unet.resolve(UNET), unet.resolve("diffusion_pytorch_model.fp16.safetensors"));
        Path index = ModelCopies.shard(unet, "diffusion_pytorch_model", "fp16", 2);
        assertEquals("diffusion_pytorch_model.safetensors.index.fp16.json", index.getFileName().toString());
        assertTrue(Files.isRegularFile(unet.resolve("diffusion_pytorch_model.fp16-00002-of-00002.safetensors")));
        ModelFolder f = ModelFolder.open(root);
        assertEquals(List.of("fp16"), f.variantsPresent());
        try (TensorSource plain = f.weights("unet", UNET); TensorSource fp16 = f.withVariant("fp16").weights("unet", UNET)) {
            assertInstanceOf(SafetensorsFile.class, plain);
            assertEquals(index, fp16.path());
            assertEquals(SafetensorsDType.F16, fp16.info("conv_in.weight").dtype());
        }
        // Only the variant's shards left: the folder uses them, as it does a lone variant file.
        Files.delete(unet.resolve(UNET));
        try (TensorSource only = ModelFolder.open(root).weights("unet", UNET)) {
            assertEquals(index, only.path());
        }
        ConfigException missing = assertThrows(ConfigException.class, () -> ModelFolder.open(root).withVariant("bf16").weights("unet", UNET));
        assertTrue(missing.getMessage().contains("diffusion_pytorch_model.safetensors.index.bf16.json")
                && missing.getMessage().contains("variants [fp16]"), missing.getMessage());
    }

    @Test
    void withBothASingleFileAndShardsDiffusersModelsReadTheIndexTransformersModelsTheFile() throws Exception {
        Path root = copy();
        for (String[] c : new String[][] {{"unet", "diffusion_pytorch_model"}, {"text_encoder", "model"}}) {
            Path single = root.resolve(c[0]).resolve(c[1] + ".safetensors");
            Path kept = Files.copy(single, root.resolve(c[0]).resolve("kept"));
            ModelCopies.shard(root.resolve(c[0]), c[1], null, 2);
            Files.move(kept, single);
        }
        ModelFolder f = ModelFolder.open(root);
        try (TensorSource unet = f.weights("unet", UNET); TensorSource text = f.weights("text_encoder", TEXT)) {
            // diffusers' ModelMixin looks for the index first; transformers' PreTrainedModel for the single file
            assertEquals(root.resolve("unet/diffusion_pytorch_model.safetensors.index.json"), unet.path());
            assertEquals(root.resolve("text_encoder/model.safetensors"), text.path());
        }
    }

    @Test
    void aShardTheIndexNamesIsRequiredNotTheSingleFile() throws Exception {
        Path root = copy();
        ModelCopies.shard(root.resolve("unet"), "diffusion_pytorch_model", null, 2);
        Path second = root.resolve("unet/diffusion_pytorch_model-00002-of-00002.safetensors");
        Files.delete(second);
        ModelFolder f = ModelFolder.open(root);
        ConfigException e = assertThrows(ConfigException.class, () -> f.weights("unet", UNET));
        assertTrue(e.getMessage().startsWith(second.toString()) && e.getMessage().contains("shard file not found"), e.getMessage());
        Files.delete(root.resolve("unet/diffusion_pytorch_model.safetensors.index.json"));
        ConfigException none = assertThrows(ConfigException.class, () -> f.weights("unet", UNET));
        assertTrue(none.getMessage().contains(root.resolve("unet").resolve(UNET) + ": file not found")
                && none.getMessage().contains("diffusion_pytorch_model.safetensors.index.json"), none.getMessage());
    }
}
