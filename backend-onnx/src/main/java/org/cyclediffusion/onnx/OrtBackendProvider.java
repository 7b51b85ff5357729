package org.cyclediffusion.onnx;

import java.util.List;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;

/**
 * The ONNX Runtime backend, {@code onnx}. Discovery is cheap: nothing here loads ONNX Runtime's
 * native library until {@link #open}.
 */
public final class OrtBackendProvider implements BackendProvider {
    @Override
    public String name() {
        return "onnx";
    }

    /** {@code cpu}, plus {@code cuda} when the {@code onnxruntime_gpu} artifact is on the class path. */
    @Override
    public List<String> devices() {
        return OrtSessionFactory.cudaOnClassPath(OrtBackendProvider.class.getClassLoader()) ? List.of("cpu", "cuda") : List.of("cpu");
    }

    @Override
    public boolean canOpen(ModelFolder folder) {
        return folder.hasFile("unet", "model.onnx");
    }

    /**
     * fp32 everywhere: an ONNX model's precision is fixed by its export (optimum and the diffusers
     * script write fp32 unless asked for fp16); an fp16 export is opened with {@code --dtype fp16}.
     */
    @Override
    public DType defaultDType(Device device) {
        return DType.FLOAT32;
    }

    @Override
    public Models open(ModelFolder folder, Device device, DType dtype) {
        return OrtModels.open(folder, device, dtype);
    }

    @Override
    public String toString() {
        return "onnx backend (ONNX Runtime)";
    }
}
