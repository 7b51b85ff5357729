package org.cyclediffusion.libtorch;

import java.util.Arrays;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.LatentDistribution;
import org.cyclediffusion.core.spi.Vae;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * {@link Vae} over {@link AutoencoderKL}: {@code vae/} of a diffusers folder. With
 * {@code force_upcast} (true in SD configs) a float16 VAE runs in float32, as diffusers' pipelines
 * upcast it: SD VAEs overflow in half precision at high resolutions. A batch is encoded and decoded
 * one image at a time (diffusers' {@code enable_vae_slicing}; the networks treat images independently,
 * so only peak memory changes), and in tiles on request ({@link #setTiling}, diffusers'
 * {@code enable_vae_tiling}), see {@link VaeTiling}.
 */
final class TorchVae extends TorchComponent implements Vae {
    private final AutoencoderKL model;
    private final VaeTiling runner;
    private volatile boolean tiling;

    private TorchVae(TorchContext context, TorchWeights weights, AutoencoderKL model) {
        super("VAE", context, weights);
        this.model = model;
        this.runner = new VaeTiling(model.config());
    }

    static TorchVae load(ModelFolder folder, TorchContext context) {
        AutoencoderKLConfig config = AutoencoderKLConfig.read(folder.config("vae", "config.json"));
        TorchContext vaeContext = config.forceUpcast() && context.dtype() == DType.FLOAT16 ? context.withDType(DType.FLOAT32) : context;
        TorchWeights weights = TorchWeights.load(folder.weights("vae", "diffusion_pytorch_model.safetensors"),
                AutoencoderKL.expectedShapes(config), VaeAttentionBlock::renameLegacy, vaeContext, vaeContext.scalarType());
        try {
            return new TorchVae(vaeContext, weights, new AutoencoderKL(config, weights));
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /** The weights {@link #encode} runs: {@code encoder.*} and {@code quant_conv.*}. */
    static boolean isEncoderWeight(String name) {
        return name.startsWith("encoder.") || name.startsWith("quant_conv.");
    }

    /** The weights {@link #decode} runs: {@code decoder.*} and {@code post_quant_conv.*}. */
    static boolean isDecoderWeight(String name) {
        return name.startsWith("decoder.") || name.startsWith("post_quant_conv.");
    }

    @Override
    public LatentDistribution encode(FloatTensor pixels) {
        check(pixels, model.config().inChannels(), "pixels");
        FloatTensor moments = run(() -> TorchContext.download(runner.encodeMoments(model, context().upload(pixels), tiling)));
        return LatentDistribution.fromMoments(moments);
    }

    @Override
    public FloatTensor decode(FloatTensor latents) {
        check(latents, model.config().latentChannels(), "latents");
        return run(() -> TorchContext.download(runner.decode(model, context().upload(latents), tiling)));
    }

    private void check(FloatTensor t, int channels, String what) {
        ensureOpen();
        if (t.rank() != 4 || t.dim(1) != channels) {
            throw new CycleDiffusionException("VAE " + what + ": expected [B, " + channels + ", H, W], found " + Arrays.toString(t.shape()));
        }
    }

    @Override
    public boolean setTiling(boolean on) {
        tiling = on;
        return true;
    }

    @Override
    public float scalingFactor() {
        return model.config().scalingFactor();
    }

    @Override
    public int scaleFactor() {
        return model.config().scaleFactor();
    }
}
