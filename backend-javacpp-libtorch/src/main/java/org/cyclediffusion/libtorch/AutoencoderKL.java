package org.cyclediffusion.libtorch;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.libtorch.Layers.Conv2d;

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
        this.config = config;
        this.encoder = new VaeEncoder(config, w);
        this.decoder = new VaeDecoder(config, w);
        this.quantConv = Conv2d.of(w, "quant_conv", 1, 0);
        this.postQuantConv = Conv2d.of(w, "post_quant_conv", 1, 0);
    }

    /** Every parameter of the {@code AutoencoderKL} that {@code vae/config.json} describes, by state-dict name, with its shape. */
    static Map<String, long[]> expectedShapes(JsonConfig config) {
        return expectedShapes(AutoencoderKLConfig.read(config));
    }

    static Map<String, long[]> expectedShapes(AutoencoderKLConfig c) {
        Map<String, long[]> s = new LinkedHashMap<>();
        VaeEncoder.expect(s, c);
        VaeDecoder.expect(s, c);
        Conv2d.expect(s, "quant_conv", 2L * c.latentChannels(), 2L * c.latentChannels(), 1);
        Conv2d.expect(s, "post_quant_conv", c.latentChannels(), c.latentChannels(), 1);
        return s;
    }

    AutoencoderKLConfig config() {
        return config;
    }

    /** pixels [B, in_channels, H, W] → moments [B, 2·latent_channels, H/f, W/f]. */
    Tensor encodeMoments(Tensor pixels) {
        return quantConv.apply(encoder.forward(pixels));
    }

    /** unscaled latents [B, latent_channels, h, w] → pixels [B, out_channels, h·f, w·f]. */
    Tensor decode(Tensor latents) {
        return decoder.forward(postQuantConv.apply(latents));
    }
}
