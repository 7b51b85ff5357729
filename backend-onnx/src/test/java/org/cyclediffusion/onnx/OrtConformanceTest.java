package org.cyclediffusion.onnx;

import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.conformance.BackendConformanceSuite;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.testing.Fixtures;

/** The component parity suite on {@code tiny-sd-onnx} (optimum layout, fp32, CPU). */
class OrtConformanceTest extends BackendConformanceSuite {
    @Override
    protected Models open(String fixtureModel) {
        return new OrtBackendProvider().open(ModelFolder.open(Fixtures.model(fixtureModel)), Device.CPU, DType.FLOAT32);
    }

    @Override
    protected List<String> fixtureModels() {
        return List.of("tiny-sd-onnx");
    }

    /** The exported UNet was traced at 8x8 latents: only sides divisible by 4 run (fixtures README §3). */
    @Override
    protected Optional<String> latentSizeRestriction(String fixtureModel) {
        return Optional.of("divisible by 4");
    }
}
