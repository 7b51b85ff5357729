package org.cyclediffusion.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.TensorSource;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** diffusers' {@code variant} files: picked by name, used alone when they are all a folder has, refused when ambiguous. */
class ModelFolderVariantTest {
    private static final String UNET = "diffusion_pytorch_model.safetensors";

    private static Path folderWithFp16(Path dir, boolean keepPlain) {
        if (!keepPlain) {
            return ModelCopies.fp16VariantOnly(Fixtures.model("tiny-sd"), dir.resolve("m"), "unet");
        }
        Path root = dir.resolve("m");
        ModelCopies.copyTree(Fixtures.model("tiny-sd"), root);
        ModelCopies.writeFp16(root.resolve("unet").resolve(UNET), root.resolve("unet/diffusion_pytorch_model.fp16.safetensors"));
        return root;
    }

    private static SafetensorsDType firstDType(ModelFolder f) {
        try (TensorSource s = f.weights("unet", UNET)) {
            return s.tensors().values().iterator().next().dtype();
        }
    }

    @Test
    void variantPicksTheVariantFileAndThePlainOneOtherwise(@TempDir Path dir) {
        ModelFolder f = ModelFolder.open(folderWithFp16(dir, true));
        assertEquals(SafetensorsDType.F32, firstDType(f));
        assertEquals(SafetensorsDType.F16, firstDType(f.withVariant("fp16")));
    }

    @Test
    void aFolderWithOnlyVariantFilesUsesThem(@TempDir Path dir) {
        ModelFolder f = ModelFolder.open(folderWithFp16(dir, false));
        assertTrue(f.hasWeights("unet", UNET));
        assertEquals(SafetensorsDType.F16, firstDType(f));
    }

    @Test
    void aMissingOrAmbiguousVariantSaysWhatThereIs(@TempDir Path dir) throws Exception {
        Path root = folderWithFp16(dir, false);
        ConfigException missing = assertThrows(ConfigException.class, () -> ModelFolder.open(root).withVariant("bf16").weights("unet", UNET));
        assertTrue(missing.getMessage().contains("--variant bf16") && missing.getMessage().contains("[fp16]"), missing.getMessage());
        Files.copy(root.resolve("unet/diffusion_pytorch_model.fp16.safetensors"), root.resolve("unet/diffusion_pytorch_model.bf16.safetensors"));
        ConfigException ambiguous = assertThrows(ConfigException.class, () -> ModelFolder.open(root).weights("unet", UNET));
        assertTrue(ambiguous.getMessage().contains("[bf16, fp16]") && ambiguous.getMessage().contains("--variant"), ambiguous.getMessage());
        assertFalse(ModelFolder.open(root).hasWeights("unet", UNET));
    }

    @Test
    void pickleWeightsAreRefusedWithTheConversion(@TempDir Path dir) throws Exception {
        Path root = folderWithFp16(dir, false);
        Files.delete(root.resolve("unet/diffusion_pytorch_model.fp16.safetensors"));
        Files.write(root.resolve("unet/diffusion_pytorch_model.bin"), new byte[] {(byte) 0x80});
        ConfigException e = assertThrows(ConfigException.class, () -> ModelFolder.open(root).weights("unet", UNET));
        assertTrue(e.getMessage().contains("arbitrary code") && e.getMessage().contains("safe_serialization=True"), e.getMessage());
    }
}
