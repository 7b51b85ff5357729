package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;

class TorchBackendProviderTest {
    @Test
    void discoveredAsLibtorch() {
        BackendProvider p = Registry.discover().backend("libtorch");
        assertInstanceOf(TorchBackendProvider.class, p);
        assertEquals("libtorch", p.name());
        assertTrue(p.canOpen(ModelFolder.open(Fixtures.model("tiny-sd"))));
        assertTrue(p.canOpen(ModelFolder.open(Fixtures.model("tiny-sd2"))));
        assertFalse(p.canOpen(ModelFolder.open(Fixtures.model("tiny-sd-onnx"))), "an ONNX folder has no unet safetensors");
        assertEquals(DType.FLOAT32, p.defaultDType(Device.CPU));
        assertEquals(DType.FLOAT16, p.defaultDType(Device.parse("cuda")));
        // cuda is offered exactly when the GPU build is on the class path (mvn -Pcuda).
        assertEquals(gpuNativesOnClassPath() ? List.of("cpu", "cuda") : List.of("cpu"), p.devices());
    }

    @Test
    void slicesAttentionSoTheEstimateMayCountIt() {
        assertTrue(new TorchBackendProvider().supportsAttentionSlicing());
    }

    @Test
    void cudaWithoutTheGpuNativesSaysWhatAGpuMachineNeeds() {
        CycleDiffusionException e = assertThrows(CycleDiffusionException.class,
                () -> new TorchBackendProvider().open(ModelFolder.open(Fixtures.model("tiny-sd")), Device.parse("cuda"), DType.FLOAT16));
        String m = e.getMessage();
        assertTrue(m.startsWith("device cuda:0: "), m);
        if (gpuNativesOnClassPath()) {
            // -Pcuda on a machine without a GPU: either CUDA's libraries or the device are missing.
            assertTrue(m.contains("did not load") || m.contains("sees no CUDA device"), m);
        } else {
            assertTrue(m.contains("CPU-only"), m);
        }
        assertTrue(m.contains("-Pcuda") && m.contains("linux-x86_64-gpu") && m.contains("cuda-redist") && m.contains("driver"), m);
        assertTrue(m.contains("--device cpu"), m);
    }

    /**
     * Discovery (ServiceLoader → Guice → provider name, devices, canOpen) must not load native code:
     * checked in a fresh JVM, whose memory map must show no LibTorch afterwards.
     */
    @Test
    void discoveryLoadsNoNativeCode() throws IOException, InterruptedException {
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"), DiscoveryProbe.class.getName(),
                Fixtures.model("tiny-sd").toString()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe timed out");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("canOpen=true"), out);
        assertTrue(out.contains("mapped=[]"), "native libraries mapped during discovery: " + out);
    }

    private static boolean gpuNativesOnClassPath() {
        return TorchBackendProviderTest.class.getClassLoader().getResource("org/bytedeco/pytorch/linux-x86_64-gpu/libtorch_cuda.so") != null;
    }

    /** Run in its own JVM by {@link #discoveryLoadsNoNativeCode}. */
    public static final class DiscoveryProbe {
        public static void main(String[] args) throws IOException {
            BackendProvider p = Registry.discover().backend("libtorch");
            boolean canOpen = p.canOpen(ModelFolder.open(Paths.get(args[0])));
            List<String> mapped = Files.readAllLines(Paths.get("/proc/self/maps")).stream()
                    .filter(l -> l.contains("libtorch") || l.contains("libc10") || l.contains("libjnitorch") || l.contains("openblas"))
                    .map(l -> l.substring(l.indexOf('/'))).distinct().toList();
            System.out.println("devices=" + p.devices() + " canOpen=" + canOpen + " mapped=" + mapped);
        }
    }
}
