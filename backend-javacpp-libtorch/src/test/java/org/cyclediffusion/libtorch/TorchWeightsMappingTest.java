package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;

/**
 * One resident copy of the weights: float32 weights on the CPU are the file's mapping, which stays
 * mapped exactly as long as the weights are open; weights that are converted (bf16) or copied on
 * request do not keep the file mapped once loaded. Read from {@code /proc/self/maps} (Linux), and
 * the values of both paths must be identical.
 */
class TorchWeightsMappingTest {
    private static final Path VAE = Fixtures.model("tiny-sd").resolve("vae/diffusion_pytorch_model.safetensors");

    private static long mappingsOf(Path file) throws IOException {
        String real = file.toRealPath().toString();
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.endsWith(" " + real)).count();
    }

    /**
     * The count once the garbage collector has unmapped what earlier tests in this JVM left to it
     * (a buffer mapped by {@code FileChannel.map} and dropped is unmapped at a later collection;
     * the full suite once counted 179 such mappings of this file before a load and 0 during it).
     */
    private static long settledMappingsOf(Path file) {
        return Settled.value(() -> {
            try {
                return mappingsOf(file);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    private static TorchWeights load(TorchContext context) {
        ModelFolder folder = ModelFolder.open(Fixtures.model("tiny-sd"));
        AutoencoderKLConfig config = AutoencoderKLConfig.read(folder.config("vae", "config.json"));
        return TorchWeights.load(folder.weights("vae", "diffusion_pytorch_model.safetensors"), AutoencoderKL.expectedShapes(config),
                UnaryOperator.identity(), context, context.scalarType());
    }

    @Test
    void float32WeightsAreTheMappingUntilClosed() throws IOException {
        TorchContext cpu = TorchContext.open(Device.CPU, DType.FLOAT32);
        long before = settledMappingsOf(VAE);
        FloatTensor mapped;
        try (TorchWeights w = load(cpu)) {
            assertTrue(mappingsOf(VAE) > before, "the weights view the file's mapping");
            mapped = cpu.run(() -> TorchContext.download(w.get("decoder.conv_in.weight")));
        }
        assertEquals(before, mappingsOf(VAE), "close() unmaps at once, not at a later garbage collection");
        System.setProperty(TorchWeights.COPY_PROPERTY, "true");
        try (TorchWeights w = load(cpu)) {
            assertEquals(before, mappingsOf(VAE), "copied weights release each mapping after its copy");
            assertEquals(0f, cpu.run(() -> TorchContext.download(w.get("decoder.conv_in.weight"))).maxAbsDiff(mapped));
        } finally {
            System.clearProperty(TorchWeights.COPY_PROPERTY);
        }
    }

    @Test
    void convertedWeightsDoNotKeepTheFileMapped() throws IOException {
        long before = settledMappingsOf(VAE);
        try (TorchWeights w = load(TorchContext.open(Device.CPU, DType.BFLOAT16))) {
            assertEquals(before, mappingsOf(VAE), "bf16 copies exist; the float32 file is no longer mapped");
        }
    }
}
