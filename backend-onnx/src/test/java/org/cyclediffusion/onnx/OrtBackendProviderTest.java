package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Discovery, devices, and the errors a user sees for a folder or device the backend cannot use. */
class OrtBackendProviderTest {
    private final OrtBackendProvider provider = new OrtBackendProvider();

    @TempDir
    Path dir;

    @Test
    void discoveredAsOnnxThroughItsPlugin() {
        assertInstanceOf(OrtBackendProvider.class, Registry.discover().backend("onnx"));
        assertEquals("onnx", provider.name());
        assertEquals(DType.FLOAT32, provider.defaultDType(Device.parse("cuda")));
    }

    @Test
    void exportedGraphsCannotSliceAttentionSoTheEstimateMustNotCountIt() {
        assertFalse(provider.supportsAttentionSlicing());
    }

    @Test
    void cpuOnlyWithoutTheGpuArtifact() {
        // this build has com.microsoft.onnxruntime:onnxruntime, which ships no CUDA provider
        assertFalse(OrtSessionFactory.cudaOnClassPath(getClass().getClassLoader()));
        assertEquals(List.of("cpu"), provider.devices());
    }

    @Test
    void cudaWithoutTheGpuArtifactNamesIt() {
        ModelFolder folder = ModelFolder.open(Fixtures.model("tiny-sd-onnx"));
        int before = OrtNetwork.LIVE_SESSIONS.get();
        CycleDiffusionException e = assertThrows(CycleDiffusionException.class,
                () -> provider.open(folder, Device.parse("cuda:0"), DType.FLOAT32));
        assertTrue(e.getMessage().contains("com.microsoft.onnxruntime:onnxruntime_gpu"), e.getMessage());
        assertTrue(e.getMessage().contains("cuda:0") && e.getMessage().contains("--device cpu"), e.getMessage());
        assertEquals(before, OrtNetwork.LIVE_SESSIONS.get());
    }

    @Test
    void canOpenOnlyOnnxFolders() {
        assertTrue(provider.canOpen(ModelFolder.open(Fixtures.model("tiny-sd-onnx"))));
        assertFalse(provider.canOpen(ModelFolder.open(Fixtures.model("tiny-sd"))));
    }

    @Test
    void missingFileIsNamedBeforeAnySessionLoads() throws IOException {
        OrtTestExports.linkedCopy(dir);
        Files.delete(dir.resolve("vae_decoder/model.onnx"));
        int before = OrtNetwork.LIVE_SESSIONS.get();
        ConfigException e = assertThrows(ConfigException.class, () -> provider.open(ModelFolder.open(dir), Device.CPU, DType.FLOAT32));
        assertTrue(e.getMessage().contains(dir.resolve("vae_decoder/model.onnx").toString()) && e.getMessage().contains("file not found"),
                e.getMessage());
        assertEquals(before, OrtNetwork.LIVE_SESSIONS.get());
    }

    @Test
    void wrongNetworkInPlaceOfTheUNetFailsWithBothSignatures() throws IOException {
        OrtTestExports.linkedCopy(dir);
        Path unet = dir.resolve("unet/model.onnx");
        Files.delete(unet);
        Files.createSymbolicLink(unet, Fixtures.model("tiny-sd-onnx").resolve("text_encoder/model.onnx"));
        int before = OrtNetwork.LIVE_SESSIONS.get();
        ConfigException e = assertThrows(ConfigException.class, () -> provider.open(ModelFolder.open(dir), Device.CPU, DType.FLOAT32));
        String m = e.getMessage();
        assertTrue(m.startsWith(unet + ": not a UNet network"), m);
        assertTrue(m.contains("Expected inputs [sample: bfloat16|float16|float32 rank 4, timestep: bfloat16|float16|float32|int32|int64 rank 0|1,"
                + " encoder_hidden_states: bfloat16|float16|float32 rank 3], outputs [out_sample: bfloat16|float16|float32 rank 4]"), m);
        assertTrue(m.contains("found inputs [input_ids: int64 [batch_size, sequence_length]]"), m);
        assertTrue(m.contains("missing input 'sample'") && m.contains("unexpected input 'input_ids'") && m.contains("missing output 'out_sample'"), m);
        // the text encoder opened before the UNet was closed again
        assertEquals(before, OrtNetwork.LIVE_SESSIONS.get());
    }

    @Test
    void lateFailureClosesEverythingOpenedBefore() throws IOException {
        OrtTestExports.linkedCopy(dir);
        Path decoder = dir.resolve("vae_decoder/model.onnx");
        Files.delete(decoder);
        Files.createSymbolicLink(decoder, Fixtures.model("tiny-sd-onnx").resolve("vae_encoder/model.onnx"));
        int before = OrtNetwork.LIVE_SESSIONS.get();
        ConfigException e = assertThrows(ConfigException.class, () -> provider.open(ModelFolder.open(dir), Device.CPU, DType.FLOAT32));
        assertTrue(e.getMessage().contains("not a VAE decoder network") && e.getMessage().contains("missing input 'latent_sample'"),
                e.getMessage());
        assertEquals(before, OrtNetwork.LIVE_SESSIONS.get(), "text encoder, UNet and VAE encoder sessions closed after the failure");
    }

    @Test
    void truncatedModelIsOneLineNamingTheFile() throws IOException {
        // issue 9: a download cut short is the user's input (exit 2), said in one line that names the file
        OrtTestExports.linkedCopy(dir);
        Path unet = dir.resolve("unet/model.onnx");
        byte[] bytes = Files.readAllBytes(Fixtures.model("tiny-sd-onnx").resolve("unet/model.onnx"));
        Files.delete(unet);
        Files.write(unet, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        int before = OrtNetwork.LIVE_SESSIONS.get();
        ConfigException e = assertThrows(ConfigException.class, () -> provider.open(ModelFolder.open(dir), Device.CPU, DType.FLOAT32));
        String m = e.getMessage();
        assertTrue(m.startsWith(unet + ": not an ONNX model this ONNX Runtime can load; the file may be truncated or corrupt"), m);
        assertEquals(1, m.lines().count(), m);
        assertFalse(m.contains("\u001B"), m);
        assertEquals(before, OrtNetwork.LIVE_SESSIONS.get(), "the text encoder opened before it was closed again");
    }

    @Test
    void precisionIsTheExports() {
        ModelFolder folder = ModelFolder.open(Fixtures.model("tiny-sd-onnx"));
        int before = OrtNetwork.LIVE_SESSIONS.get();
        ConfigException e = assertThrows(ConfigException.class, () -> provider.open(folder, Device.CPU, DType.FLOAT16));
        assertTrue(e.getMessage().contains("computes in fp32") && e.getMessage().contains("--dtype fp32"), e.getMessage());
        assertEquals(before, OrtNetwork.LIVE_SESSIONS.get());
    }

    @Test
    void latentSizeCheckSaysWhichSizesWork() {
        try (Models m = provider.open(ModelFolder.open(Fixtures.model("tiny-sd-onnx")), Device.CPU, DType.FLOAT32)) {
            assertEquals("onnx cpu fp32", m.description());
            assertEquals(4, ((OrtUNet) m.unet()).downsampling(), "2^(3 down blocks - 1)");
            m.unet().checkLatentSize(8, 12);
            m.unet().checkLatentSize(4, 16);
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> m.unet().checkLatentSize(7, 10));
            assertEquals("image 80x56 (width x height; latents 10x7): the ONNX UNet " + Fixtures.model("tiny-sd-onnx").resolve("unet/model.onnx")
                    + " was traced at one size and only takes image sides that are multiples of 32 (latent sides divisible by 4);"
                    + " resize or crop the image to 64x32 or 96x64, or use the libtorch backend (--backend libtorch), which takes any"
                    + " multiple of 8", e.getMessage());
            // issue 9: a 72x64 file (width x height) is said as 72x64, as image tools say it
            InvalidInputException wide = assertThrows(InvalidInputException.class, () -> m.unet().checkLatentSize(8, 9));
            assertTrue(wide.getMessage().startsWith("image 72x64 (width x height; latents 9x8)") && wide.getMessage().contains("64x64 or 96x64"),
                    wide.getMessage());
            assertThrows(CycleDiffusionException.class, () -> m.unet().checkLatentSize(8, 10));
        }
    }
}
