package org.cyclediffusion.libtorch;

import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.benchmarks.LatentShapes;
import org.cyclediffusion.benchmarks.Sd15;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The host ↔ LibTorch copies of every UNet and VAE call on the CPU, as {@link TorchUNet} and
 * {@link TorchVae} make them: {@link TorchContext#upload} of a {@link FloatTensor} and
 * {@link TorchContext#download} of the result, each inside {@link TorchContext#run} (inference mode
 * and a pointer scope), as a forward pass runs. Lives in the backend's package to call that code
 * rather than a copy. {@link #baselineCopy} clones an array of the same size.
 */
public class TorchCopyBenchmark extends LatentShapes {
    /** The context's precision: float32, or bfloat16 (converted at the boundary). */
    @Param({"FLOAT32", "BFLOAT16"})
    public DType dtype;

    private TorchContext context;
    private FloatTensor host;
    private Tensor onDevice;

    @Setup
    public void setUp() {
        context = TorchContext.open(Device.CPU, dtype);
        host = Sd15.randn(1, latentShape());
        onDevice = context.run(() -> context.upload(host).retainReference());
    }

    @TearDown
    public void tearDown() {
        onDevice.close();
    }

    @Benchmark
    public float[] baselineCopy() {
        return host.data().clone();
    }

    /** FloatTensor → device tensor (the UNet's latents, the VAE's pixels or latents). */
    @Benchmark
    public long upload() {
        return context.run(() -> context.upload(host).numel());
    }

    /** Device tensor → FloatTensor (the UNet's prediction, the VAE's output). */
    @Benchmark
    public FloatTensor download() {
        return context.run(() -> TorchContext.download(onDevice));
    }
}
