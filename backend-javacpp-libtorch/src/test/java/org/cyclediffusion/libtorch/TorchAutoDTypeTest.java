package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.precision.AutoDType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --dtype auto} on LibTorch: the probe measures fp32, bf16 and fp16 on the tiny UNet, the decision is cached and opens. */
class TorchAutoDTypeTest {
    @Test
    void autoResolvesOnTheTinyModelAndTheCacheIsReused(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("dtype-auto.json");
        ModelFolder folder = ModelFolder.open(Fixtures.model("tiny-sd"));
        TorchBackendProvider provider = new TorchBackendProvider();

        AutoDType.Decision first = AutoDType.resolve(provider, folder, Device.CPU, cache);
        System.out.println(first.line());
        assertFalse(first.cached());
        assertTrue(first.reason().contains("; bf16 ") && first.reason().contains("; fp16 "), first.reason());
        // both reduced types are correct implementations here: each within the tolerance on every ISA
        assertFalse(first.reason().contains("(over)"), first.reason());
        assertTrue(Files.readString(cache).contains("libtorch 2.10"), Files.readString(cache));

        AutoDType.Decision second = AutoDType.resolve(provider, folder, Device.CPU, cache);
        assertTrue(second.cached(), "the second resolve reads the cache");
        assertEquals(first.dtype(), second.dtype());
        assertEquals(first.reason(), second.reason());

        try (Models m = provider.open(folder, Device.CPU, first.dtype())) {
            assertTrue(m.description().startsWith("libtorch cpu " + first.dtype().shortName()), m.description());
        }
    }
}
