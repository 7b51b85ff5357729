package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.cuda_is_available;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.cyclediffusion.core.conformance.BackendConformanceSuite;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.BeforeEach;

/**
 * The component parity suite on a CUDA device in fp32 (the same tolerances as on the CPU). Runs on a
 * GPU machine built with {@code -Pcuda}; elsewhere it skips with the reason. The same code path is
 * covered on the CPU by {@link TorchConformanceTest}.
 */
class TorchCudaConformanceTest extends BackendConformanceSuite {
    // Per test, so each one is reported as skipped with the reason.
    @BeforeEach
    void requireCuda() {
        boolean usable = TorchNatives.cudaNativesOnClassPath();
        if (usable) {
            TorchNatives.load();
            usable = TorchNatives.cudaLoaded() && cuda_is_available();
        }
        assumeTrue(usable, "no CUDA device here: this test needs the -Pcuda build, an NVIDIA GPU and driver; "
                + "TorchConformanceTest runs the same suite on the CPU");
    }

    @Override
    protected Models open(String fixtureModel) {
        return new TorchBackendProvider().open(ModelFolder.open(Fixtures.model(fixtureModel)), Device.parse("cuda:0"), DType.FLOAT32);
    }

    @Override
    protected List<String> fixtureModels() {
        return List.of("tiny-sd", "tiny-sd2");
    }
}
