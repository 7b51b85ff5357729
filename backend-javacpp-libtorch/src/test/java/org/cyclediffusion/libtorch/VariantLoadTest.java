package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.TensorAssert;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A folder that holds only fp16 variant files ({@code save_pretrained(variant="fp16")}) opens on the
 * CPU in fp32 by default: each weight is upcast once, at load, and the networks agree with the fp32
 * folder up to the rounding of the weights to half precision.
 */
class VariantLoadTest {
    private static final long[][] IDS = {{49406, 320, 1125, 49407}};

    @Test
    void variantOnlyFolderLoadsInFp32(@TempDir Path dir) {
        Path root = ModelCopies.fp16VariantOnly(Fixtures.model("tiny-sd"), dir.resolve("tiny-sd-fp16"), "unet", "vae", "text_encoder");
        TorchBackendProvider provider = new TorchBackendProvider();
        ModelFolder variant = ModelFolder.open(root);
        assertTrue(provider.canOpen(variant), "the backend recognises a folder of variant files");
        FloatTensor reference;
        try (Models m = provider.open(ModelFolder.open(Fixtures.model("tiny-sd")), Device.CPU, provider.defaultDType(Device.CPU))) {
            reference = m.textEncoder().encode(IDS, 0);
        }
        try (Models m = provider.open(variant, Device.CPU, provider.defaultDType(Device.CPU))) {
            assertTrue(m.description().contains(DType.FLOAT32.shortName()), m.description());
            FloatTensor half = m.textEncoder().encode(IDS, 0);
            double max = TensorAssert.diffStats(half.data(), reference.data())[0];
            assertTrue(max > 0 && max < 2e-2, "fp16 weights in fp32: max |d| " + max + " from the fp32 folder (rounding only)");
        }
    }
}
