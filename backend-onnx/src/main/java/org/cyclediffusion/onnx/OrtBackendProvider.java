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
     * fp32 on every device when the export is not known: an ONNX model's precision is fixed by its
     * export, so CUDA does not imply fp16 here (optimum and the diffusers script write fp32 unless
     * asked for fp16).
     */
    @Override
    public DType defaultDType(Device device) {
        return DType.FLOAT32;
    }

    /**
     * The export's own precision: that of the UNet's {@code sample} input, read from the graph's
     * declared inputs (no session, no weights), so an fp16 export runs in fp16 without
     * {@code --dtype}. fp32 when the file cannot be read (opening it then says why).
     */
    @Override
    public DType defaultDType(ModelFolder folder, Device device) {
        if (!folder.hasFile("unet", "model.onnx")) {
            return defaultDType(device);
        }
        try {
            Integer type = OrtOnnxGraph.read(folder.component("unet").resolve("model.onnx")).inputElemTypes().get(OrtUNet.SAMPLE);
            if (type == null) {
                return defaultDType(device);
            }
            return switch (type) {
                case OrtOnnxGraph.FLOAT16 -> DType.FLOAT16;
                case OrtOnnxGraph.BFLOAT16 -> DType.BFLOAT16;
                default -> DType.FLOAT32;
            };
        } catch (RuntimeException e) {
            return defaultDType(device);
        }
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
