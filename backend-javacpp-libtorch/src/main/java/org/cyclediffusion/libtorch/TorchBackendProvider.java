package org.cyclediffusion.libtorch;

import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.PrecisionProbe;

/**
 * The LibTorch backend ({@code libtorch}): diffusers folders with safetensors weights, run with
 * functional LibTorch ops through JavaCPP. Discovery is cheap: nothing here loads native code
 * until {@link #open}.
 */
public final class TorchBackendProvider implements BackendProvider {
    public static final String NAME = "libtorch";

    /** What a machine needs for {@code --device cuda} (the CPU natives are the default dependency). */
    static final String GPU_REQUIREMENTS = "a GPU machine needs (1) an NVIDIA driver for CUDA 13 (R580 or newer);"
            + " (2) this module built with the Maven profile -Pcuda, which adds org.bytedeco:pytorch:2.10.0-1.5.13:linux-x86_64-gpu,"
            + " org.bytedeco:cuda:13.1-9.19-1.5.13 (with :linux-x86_64) and org.bytedeco:cuda-redist:13.1-9.19-1.5.13:linux-x86_64"
            + " (cudart, cufft, curand, cupti, nvrtc, nvJitLink, cufile); (3) what Maven does not serve: cuBLAS 13, cuSPARSE 12 and"
            + " cuSOLVER 12 (CUDA 13.1 toolkit), cuDNN 9 and NCCL 2, in /usr/local/cuda-13.1/lib64 or on the dynamic linker's path."
            + " Use --device cpu otherwise";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<String> devices() {
        return TorchNatives.cudaNativesOnClassPath() ? List.of("cpu", "cuda") : List.of("cpu");
    }

    @Override
    public boolean canOpen(ModelFolder folder) {
        return folder.hasWeights("unet", "diffusion_pytorch_model.safetensors");
    }

    /** fp32 on the CPU, fp16 on CUDA; bf16 only on request. */
    @Override
    public boolean supportsAttentionSlicing() {
        return true; // TorchUNet.setAttentionSlicing slices every self- and cross-attention of the UNet
    }

    @Override
    public DType defaultDType(Device device) {
        return device.isCuda() ? DType.FLOAT16 : DType.FLOAT32;
    }

    /** {@code --dtype auto}: the UNet timed and compared in fp32, bf16 and fp16 ({@link TorchPrecisionProbe}). */
    @Override
    public Optional<PrecisionProbe> precisionProbe(ModelFolder folder, Device device) {
        return Optional.of(new TorchPrecisionProbe(folder, device));
    }

    @Override
    public Models open(ModelFolder folder, Device device, DType dtype) {
        return TorchModels.open(folder, TorchContext.open(device, dtype));
    }

    @Override
    public String toString() {
        return NAME;
    }
}
