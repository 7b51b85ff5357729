package org.cyclediffusion.core.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.ShardedSafetensors;
import org.cyclediffusion.core.io.TensorSource;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.LogCapture;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A component saved in shards ({@code save_pretrained(max_shard_size=...)}): found through its
 * index in the plain and the variant naming (and diffusers 0.29-0.30's deprecated variant naming),
 * read as the same tensors, and chosen against a single file beside it as diffusers (index first)
 * and transformers (single file first) choose.
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

    /**
     * A variant's index and shards renamed as diffusers 0.29 and 0.30 saved them:
     * {@code S.safetensors.V.index.json} naming {@code S-00001-of-0000N.V.safetensors}.
     */
    private static Path oldNames(Path index, String stem, String variant) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = (ObjectNode) json.readTree(index.toFile());
        ObjectNode map = (ObjectNode) root.get("weight_map");
        Map<String, String> renamed = new TreeMap<>();
        map.fields().forEachRemaining(e -> {
            String shard = e.getValue().asText();
            String old = renamed.computeIfAbsent(shard, n -> n.replace("." + variant + "-", "-").replace(".safetensors", "." + variant + ".safetensors"));
            e.setValue(TextNode.valueOf(old));
        });
        for (Map.Entry<String, String> r : renamed.entrySet()) {
            Files.move(index.resolveSibling(r.getKey()), index.resolveSibling(r.getValue()));
        }
        Path old = index.resolveSibling(stem + ".safetensors." + variant + ".index.json");
        json.writerWithDefaultPrettyPrinter().writeValue(old.toFile(), root);
        Files.delete(index);
        return old;
    }

    @Test
    void aVariantIndexUnderItsDeprecatedNameIsReadAfterTheCurrentOneWithAWarning() throws Exception {
        Path root = copy();
        Path unet = root.resolve("unet");
        Path fp16 = unet.resolve("diffusion_pytorch_model.fp16.safetensors");
        ModelCopies.writeFp16(unet.resolve(UNET), fp16);
        Path kept = Files.copy(fp16, unet.resolve("kept"));
        Path old = oldNames(ModelCopies.shard(unet, "diffusion_pytorch_model", "fp16", 2), "diffusion_pytorch_model", "fp16");
        assertEquals("diffusion_pytorch_model.safetensors.fp16.index.json", old.getFileName().toString());
        assertTrue(Files.isRegularFile(unet.resolve("diffusion_pytorch_model-00002-of-00002.fp16.safetensors")));
        ModelFolder f = ModelFolder.open(root);
        assertEquals(List.of("fp16"), f.variantsPresent());
        try (LogCapture log = LogCapture.of(ModelFolder.class)) {
            try (TensorSource expected = SafetensorsFile.open(kept); TensorSource actual = f.withVariant("fp16").weights("unet", UNET)) {
                assertEquals(old, actual.path());
                assertSameTensors(expected, actual);
            }
            // diffusers (_fetch_index_file_legacy) reads it with a deprecation warning
            assertEquals(1, log.warnings().size(), log.warnings().toString());
            String warning = log.warnings().get(0);
            assertTrue(warning.startsWith(old.toString()) && warning.contains("deprecates")
                    && warning.contains("diffusion_pytorch_model.safetensors.index.fp16.json")
                    && warning.contains("save_pretrained(variant=\"fp16\")"), warning);
            assertEquals(3, f.withVariant("fp16").weightFiles("unet", UNET).size(), "the index and its two shards");
            log.clear();
            try (TensorSource plain = f.weights("unet", UNET)) {
                assertEquals(unet.resolve(UNET), plain.path());
            }
            // Beside the variant's single file the index is still read: diffusers looks for an index first.
            Files.move(kept, fp16);
            assertEquals(old, f.withVariant("fp16").weightsFile("unet", UNET, true));
            // Under the current name too, that one is read, without a warning.
            Path current = ModelCopies.shard(unet, "diffusion_pytorch_model", "fp16", 3);
            try (TensorSource actual = f.withVariant("fp16").weights("unet", UNET)) {
                assertEquals(current, actual.path());
                assertEquals(3, ((ShardedSafetensors) actual).shards().size());
            }
            assertEquals(List.of(), log.warnings());
            // Only the old files left: the folder uses its only variant, as with a lone variant file.
            Files.delete(current);
            Files.delete(unet.resolve(UNET));
            assertEquals(old, ModelFolder.open(root).weightsFile("unet", UNET, true));
        }
    }

    @Test
    void theDeprecatedNameIsNotReadForTransformersModels() throws Exception {
        // transformers inserts a variant before the last dot and never wrote S.safetensors.V.index.json
        Path root = copy();
        Path text = root.resolve("text_encoder");
        ModelCopies.writeFp16(text.resolve(TEXT), text.resolve("model.fp16.safetensors"));
        Path old = oldNames(ModelCopies.shard(text, "model", "fp16", 2), "model", "fp16");
        ModelFolder f = ModelFolder.open(root);
        assertEquals(List.of(), f.variantsPresent());
        ConfigException e = assertThrows(ConfigException.class, () -> f.withVariant("fp16").weights("text_encoder", TEXT));
        assertTrue(e.getMessage().contains("model.safetensors.index.fp16.json") && e.getMessage().contains("no variant files"), e.getMessage());
        assertTrue(Files.isRegularFile(old));
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
