package org.cyclediffusion.core.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;

/**
 * Which weights of a repository's file list a LibTorch run downloads when components are saved in
 * shards: the index and every shard of the chosen variant, in both names diffusers has given a
 * variant's shards, and the file a load would read when a single file sits beside shards.
 */
class HubFileSelectionTest {
    private static final HubId ID = HubId.parse("tests/sharded", null).orElseThrow();
    private static final JsonConfig MODEL_INDEX = JsonConfig.read(Fixtures.model("tiny-sd").resolve("model_index.json"));
    private static final List<String> CONFIGS = List.of("model_index.json", "unet/config.json", "vae/config.json",
            "text_encoder/config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json",
            "feature_extractor/preprocessor_config.json", "safety_checker/config.json");

    private static List<String> listing(String... weights) {
        List<String> files = new ArrayList<>(CONFIGS);
        files.addAll(List.of(weights));
        files.add("README.md");
        return files;
    }

    /** The weights selected, without the configs every selection has. */
    private static Set<String> weights(List<String> files, String backend, String variant) {
        List<String> selected = HubFileSelection.select(ID, files, MODEL_INDEX, backend, variant, true);
        assertEquals(selected.size(), new TreeSet<>(selected).size(), "no file twice: " + selected);
        assertTrue(selected.containsAll(CONFIGS) && !selected.contains("README.md"), selected.toString());
        Set<String> out = new TreeSet<>(selected);
        CONFIGS.forEach(out::remove);
        return out;
    }

    private static Set<String> set(String... files) {
        return new TreeSet<>(List.of(files));
    }

    private static final String[] SHARDED = {
        "unet/diffusion_pytorch_model.safetensors.index.json",
        "unet/diffusion_pytorch_model-00001-of-00003.safetensors",
        "unet/diffusion_pytorch_model-00002-of-00003.safetensors",
        "unet/diffusion_pytorch_model-00003-of-00003.safetensors",
        "unet/diffusion_pytorch_model.safetensors.index.fp16.json",
        "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
        "unet/diffusion_pytorch_model.bin.index.json",
        "unet/diffusion_pytorch_model-00001-of-00003.bin",
        "vae/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors",
        "text_encoder/model.safetensors.index.json",
        "text_encoder/model-00001-of-00002.safetensors",
        "text_encoder/model-00002-of-00002.safetensors",
        // diffusers 0.28 to 0.30 named a variant's shards with the variant after the number
        "text_encoder/model.safetensors.index.fp16.json",
        "text_encoder/model-00001-of-00002.fp16.safetensors",
        "text_encoder/model-00002-of-00002.fp16.safetensors",
        "text_encoder/pytorch_model.bin.index.fp16.json",
    };

    @Test
    void thePlainIndexAndAllItsShardsNoVariantNoPickle() {
        assertEquals(set("unet/diffusion_pytorch_model.safetensors.index.json", "unet/diffusion_pytorch_model-00001-of-00003.safetensors",
                "unet/diffusion_pytorch_model-00002-of-00003.safetensors", "unet/diffusion_pytorch_model-00003-of-00003.safetensors",
                "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors.index.json",
                "text_encoder/model-00001-of-00002.safetensors", "text_encoder/model-00002-of-00002.safetensors"),
                weights(listing(SHARDED), null, null), "backend detected from the UNet's shards");
    }

    @Test
    void theVariantIndexAndItsShardsInEitherNaming() {
        assertEquals(set("unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors", "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
                "vae/diffusion_pytorch_model.fp16.safetensors", "text_encoder/model.safetensors.index.fp16.json",
                "text_encoder/model-00001-of-00002.fp16.safetensors", "text_encoder/model-00002-of-00002.fp16.safetensors"),
                weights(listing(SHARDED), "libtorch", "fp16"));
        // A variant a component lacks: its plain weights (the folder names the missing variant when it opens).
        assertEquals(set("unet/diffusion_pytorch_model.safetensors.index.json", "unet/diffusion_pytorch_model-00001-of-00003.safetensors",
                "unet/diffusion_pytorch_model-00002-of-00003.safetensors", "unet/diffusion_pytorch_model-00003-of-00003.safetensors",
                "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors.index.json",
                "text_encoder/model-00001-of-00002.safetensors", "text_encoder/model-00002-of-00002.safetensors"),
                weights(listing(SHARDED), "libtorch", "bf16"));
    }

    @Test
    void aFolderOfOnlyOneVariantsShardsUsesThem() {
        List<String> files = listing("unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors", "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
                "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors");
        assertEquals(set("unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors", "unet/diffusion_pytorch_model.fp16-00002-of-00002.safetensors",
                "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"), weights(files, null, null));
        List<String> two = new ArrayList<>(files);
        two.add("unet/diffusion_pytorch_model.bf16.safetensors");
        HubException e = assertThrows(HubException.class, () -> weights(two, null, null));
        assertTrue(e.getMessage().contains("unet/ has only the variants [bf16, fp16]") && e.getMessage().contains("--variant"), e.getMessage());
    }

    @Test
    void besideASingleFileTheFileALoadReads() {
        List<String> files = listing("unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.safetensors.index.json",
                "unet/diffusion_pytorch_model-00001-of-00002.safetensors", "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
                "vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model-00001-of-00002.safetensors",
                "text_encoder/model.safetensors", "text_encoder/model.safetensors.index.json",
                "text_encoder/model-00001-of-00002.safetensors", "text_encoder/model-00002-of-00002.safetensors");
        // diffusers' ModelMixin reads the index first, transformers' PreTrainedModel the single file;
        // shards without their index are not a checkpoint anyone loads
        assertEquals(set("unet/diffusion_pytorch_model.safetensors.index.json", "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
                "unet/diffusion_pytorch_model-00002-of-00002.safetensors", "vae/diffusion_pytorch_model.safetensors",
                "text_encoder/model.safetensors"), weights(files, null, null));
    }

    @Test
    void aDiffusersVariantIndexUnderItsDeprecatedNameAfterTheCurrentName() {
        // diffusers 0.29 and 0.30: S.safetensors.V.index.json and S-00001-of-0000N.V.safetensors
        List<String> old = List.of("unet/diffusion_pytorch_model.safetensors.fp16.index.json",
                "unet/diffusion_pytorch_model-00001-of-00002.fp16.safetensors", "unet/diffusion_pytorch_model-00002-of-00002.fp16.safetensors");
        List<String> files = listing("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
                "text_encoder/model.safetensors", "text_encoder/model.safetensors.fp16.index.json",
                "text_encoder/model-00001-of-00002.fp16.safetensors");
        files.addAll(old);
        Set<String> expected = new TreeSet<>(old);
        expected.addAll(List.of("vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"));
        assertEquals(expected, weights(files, null, "fp16"), "transformers never wrote that name: the text encoder's plain file");
        assertEquals(set("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"),
                weights(files, null, null));
        // The current name comes first, with the shards of its own naming only.
        List<String> both = new ArrayList<>(files);
        both.addAll(List.of("unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                "unet/diffusion_pytorch_model.fp16-00001-of-00003.safetensors", "unet/diffusion_pytorch_model.fp16-00002-of-00003.safetensors",
                "unet/diffusion_pytorch_model.fp16-00003-of-00003.safetensors"));
        assertEquals(set("unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                "unet/diffusion_pytorch_model.fp16-00001-of-00003.safetensors", "unet/diffusion_pytorch_model.fp16-00002-of-00003.safetensors",
                "unet/diffusion_pytorch_model.fp16-00003-of-00003.safetensors", "vae/diffusion_pytorch_model.safetensors",
                "text_encoder/model.safetensors"), weights(both, null, "fp16"));
        // Only the old variant: a load uses it, as it does the only variant there is.
        List<String> only = new ArrayList<>(files);
        only.remove("unet/diffusion_pytorch_model.safetensors");
        assertEquals(expected, weights(only, null, null));
    }

    @Test
    void theOnnxBackendTakesNoSafetensorsNorTheirIndexes() {
        List<String> files = listing(SHARDED);
        files.addAll(List.of("unet/model.onnx", "unet/model.onnx_data", "text_encoder/model.onnx", "vae_decoder/model.onnx"));
        assertEquals(set("unet/model.onnx", "unet/model.onnx_data", "text_encoder/model.onnx"), weights(files, "onnx", null),
                "vae_decoder is not a component of this model_index.json");
    }
}
