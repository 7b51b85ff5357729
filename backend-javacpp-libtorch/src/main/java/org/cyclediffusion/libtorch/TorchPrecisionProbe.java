package org.cyclediffusion.libtorch;

import java.util.List;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.PrecisionProbe;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.libtorch.unet.UNetConfig;

/**
 * {@code --dtype auto}'s measurement on LibTorch: the folder's UNet at latents [1, C, 32, 32] (a
 * 256² image, large enough that the convolutions, not the call overhead, take the time), random
 * text embeddings [1, 77, cross_attention_dim] and timestep 500, the same inputs (seed 0) in every
 * precision. Each precision loads its own UNet and frees it before the next.
 */
final class TorchPrecisionProbe implements PrecisionProbe {
    static final int LATENT_SIZE = 32;
    static final int TOKENS = 77;
    static final long TIMESTEP = 500;

    private final ModelFolder folder;
    private final Device device;
    private final FloatTensor latents;
    private final FloatTensor text;

    TorchPrecisionProbe(ModelFolder folder, Device device) {
        this.folder = folder;
        this.device = device;
        UNetConfig c = UNetConfig.from(folder.config("unet", "config.json").quietCopy());
        TorchGenerator g = new TorchGenerator(0);
        this.latents = g.randn(1, c.inChannels(), LATENT_SIZE, LATENT_SIZE);
        this.text = g.randn(1, TOKENS, c.crossAttentionDim()[0]);
    }

    /** fp16 and bf16 on both devices: LibTorch has kernels for both on the CPU (fast with AMX/AVX512-FP16, slow without). */
    @Override
    public List<DType> candidates() {
        return List.of(DType.BFLOAT16, DType.FLOAT16);
    }

    /** oneDNN's ISA cap and the thread count change which kernels run and how fast. */
    @Override
    public String fingerprint() {
        String isa = System.getenv("ONEDNN_MAX_CPU_ISA");
        return TorchBackendProvider.NAME + " " + presetsVersion() + " " + device + (isa == null ? "" : " ONEDNN_MAX_CPU_ISA=" + isa)
                + (device.isCuda() ? "" : " threads=" + System.getenv().getOrDefault("OMP_NUM_THREADS", "auto"));
    }

    /** The JavaCPP presets' version (LibTorch's, then JavaCPP's), from the jar's manifest. */
    private static String presetsVersion() {
        String v = org.bytedeco.pytorch.global.torch.class.getPackage().getImplementationVersion();
        return v != null ? v : "unknown";
    }

    @Override
    public Trial run(DType dtype, int repetitions, double giveUpSeconds) {
        try (TorchUNet unet = TorchUNet.load(folder, TorchContext.open(device, dtype));
                Conditioning c = unet.condition(text)) {
            long w0 = System.nanoTime();
            FloatTensor out = unet.predict(latents, TIMESTEP, c); // warm-up: first-call allocations and kernel selection
            double warmUp = (System.nanoTime() - w0) / 1e9;
            if (warmUp > giveUpSeconds) {
                return new Trial(dtype, out, warmUp, true);
            }
            double best = Double.POSITIVE_INFINITY;
            for (int i = 0; i < repetitions; i++) {
                long t0 = System.nanoTime();
                out = unet.predict(latents, TIMESTEP, c);
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            return new Trial(dtype, out, best);
        }
    }

    @Override
    public void close() {
        // nothing held between runs
    }
}
