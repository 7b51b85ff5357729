package org.cyclediffusion.libtorch;

import java.util.List;
import org.cyclediffusion.core.conformance.BackendConformanceSuite;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.testing.Fixtures;

/** The shared component parity suite (DESIGN §5, level 2) on the LibTorch backend, CPU, fp32. */
class TorchConformanceTest extends BackendConformanceSuite {
    @Override
    protected Models open(String fixtureModel) {
        return new TorchBackendProvider().open(ModelFolder.open(Fixtures.model(fixtureModel)), Device.CPU, DType.FLOAT32);
    }

    @Override
    protected List<String> fixtureModels() {
        return List.of("tiny-sd", "tiny-sd2");
    }
}
