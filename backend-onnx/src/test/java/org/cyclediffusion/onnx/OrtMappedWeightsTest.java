package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * After the UNet's last use in a one-shot run, the weights ONNX Runtime mapped from the UNet's
 * cache entry leave the process's resident memory, the other networks' stay, and the UNet computes
 * the same numbers afterwards (its pages read back from the file).
 */
class OrtMappedWeightsTest {
    @TempDir
    Path cacheDir;

    @Test
    void releasingTheUNetDropsItsMappedPagesAndKeepsItsResults() {
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/smaps")), "/proc/self/smaps and madvise: Linux only");
        Path folder = Fixtures.model("tiny-sd-onnx");
        OrtModelCache cache = OrtModelCache.at(cacheDir);
        try (OrtModels first = OrtModels.open(ModelFolder.open(folder), DType.FLOAT32, OrtModelCacheTest.factory(cache))) {
            OrtModelCacheTest.unetCase1(first); // the first start writes the cache entries
        }
        OrtSessionFactory factory = OrtModelCacheTest.factory(cache);
        try (OrtModels m = OrtModels.open(ModelFolder.open(folder), DType.FLOAT32, factory)) {
            FloatTensor before = OrtModelCacheTest.unetCase1(m);
            List<Path> unetDirs = factory.mappedFrom(folder.resolve("unet").resolve("model.onnx"));
            List<Path> textDirs = factory.mappedFrom(folder.resolve("text_encoder").resolve("model.onnx"));
            assertEquals(2, unetDirs.size(), "loaded from the cache: " + unetDirs);
            long unetResident = resident(unetDirs);
            long textResident = resident(textDirs);
            assertTrue(unetResident > 0, "ONNX Runtime maps the UNet's weights from its entry " + unetDirs.get(1));

            m.releaseResidentWeights(EditPhase.DENOISING);
            assertEquals(0, resident(unetDirs), "the UNet's mapped pages are released (" + unetResident + " bytes before)");
            assertEquals(textResident, resident(textDirs), "the text encoder's are not");

            assertArrayEquals(before.data(), OrtModelCacheTest.unetCase1(m).data(), "the same numbers from pages read back");
            assertTrue(resident(unetDirs) > 0, "read back when used again");
        }
    }

    private static long resident(List<Path> dirs) {
        return OrtMappedWeights.under(dirs).stream().filter(w -> w.anonymousBytes() == 0)
                .mapToLong(OrtMappedWeights.Mapping::rssBytes).sum();
    }
}
