package org.cyclediffusion.libtorch;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.libtorch.layers.Conv2d;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ShapeRecorder;

/**
 * diffusers' {@code AutoencoderKL} (v0.23.0), without slicing or tiling: {@code encode} returns
 * the moments {@code quant_conv(encoder(x))} (mean and log-variance stacked on axis 1, before the
 * clamp), {@code decode} runs {@code decoder(post_quant_conv(z))} on unscaled latents.
 */
final class AutoencoderKL {
    private final AutoencoderKLConfig config;
    private final VaeEncoder encoder;
    private final VaeDecoder decoder;
    private final Conv2d quantConv;
    private final Conv2d postQuantConv;

    AutoencoderKL(AutoencoderKLConfig config, TorchWeights w) {
        this(config, new TorchWeightsSource(config.source(), w));
    }

    /** Assembles the network in diffusers' construction order (encoder, decoder, quant_conv, post_quant_conv). */
    private AutoencoderKL(AutoencoderKLConfig config, ParameterSource p) {
        this.config = config;
        this.encoder = new VaeEncoder(config, p);
        this.decoder = new VaeDecoder(config, p);
        int moments = 2 * config.latentChannels();
        this.quantConv = Conv2d.create(p, "quant_conv", moments, moments, 1, 1, 0);
        this.postQuantConv = Conv2d.create(p, "post_quant_conv", config.latentChannels(), config.latentChannels(), 1, 1, 0);
    }

    /** Every parameter of the {@code AutoencoderKL} that {@code vae/config.json} describes, by state-dict name, with its shape. */
    static Map<String, long[]> expectedShapes(JsonConfig config) {
        return expectedShapes(AutoencoderKLConfig.read(config));
    }

    static Map<String, long[]> expectedShapes(AutoencoderKLConfig c) {
        ShapeRecorder recorder = new ShapeRecorder(c.source());
        new AutoencoderKL(c, recorder);
        return recorder.shapes();
    }

    AutoencoderKLConfig config() {
        return config;
    }

    /** pixels [B, in_channels, H, W] → moments [B, 2·latent_channels, H/f, W/f]. */
    Tensor encodeMoments(Tensor pixels) {
        return quantConv.forward(encoder.forward(pixels));
    }

    /** unscaled latents [B, latent_channels, h, w] → pixels [B, out_channels, h·f, w·f]. */
    Tensor decode(Tensor latents) {
        return decoder.forward(postQuantConv.forward(latents));
    }
}
