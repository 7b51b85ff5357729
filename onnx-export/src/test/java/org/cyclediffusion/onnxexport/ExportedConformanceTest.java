package org.cyclediffusion.onnxexport;

import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.conformance.BackendConformanceSuite;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.onnx.OrtBackendProvider;

/**
 * The component parity suite (the same goldens and tolerance the ONNX backend's own test uses on
 * the fixture's torch export) on tiny-sd and tiny-sd2 exported by {@link OnnxExporter} and run by
 * the ONNX backend.
 */
class ExportedConformanceTest extends BackendConformanceSuite {
    @Override
    protected Models open(String fixtureModel) {
        return new OrtBackendProvider().open(ModelFolder.open(TinyExports.of(fixtureModel)), Device.CPU, DType.FLOAT32);
    }

    @Override
    protected List<String> fixtureModels() {
        return List.of("tiny-sd", "tiny-sd2");
    }

    /** The ONNX backend checks latent sizes against the UNet's down-sampling before it runs an export (any export). */
    @Override
    protected Optional<String> latentSizeRestriction(String fixtureModel) {
        return Optional.of("divisible by");
    }
}
