package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.conformance.BackendConformanceSuite;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.BeforeEach;

/**
 * The component parity suite on ONNX Runtime's CUDA provider. Runs where the
 * {@code onnxruntime_gpu} artifact is on the class path and a GPU is visible; elsewhere it skips with
 * the reason. {@link OrtConformanceTest} runs the same suite on the CPU provider.
 */
class OrtCudaConformanceTest extends BackendConformanceSuite {
    // Per test, so each one is reported as skipped with the reason.
    @BeforeEach
    void requireCuda() {
        assumeTrue(new OrtBackendProvider().devices().contains("cuda"),
                "no CUDA here: this test needs com.microsoft.onnxruntime:onnxruntime_gpu on the class path and an NVIDIA GPU; "
                        + "OrtConformanceTest runs the same suite on the CPU");
    }

    @Override
    protected Models open(String fixtureModel) {
        return new OrtBackendProvider().open(ModelFolder.open(Fixtures.model(fixtureModel)), Device.parse("cuda:0"), DType.FLOAT32);
    }

    @Override
    protected List<String> fixtureModels() {
        return List.of("tiny-sd-onnx");
    }

    @Override
    protected Optional<String> latentSizeRestriction(String fixtureModel) {
        return Optional.of("divisible by 4");
    }
}
