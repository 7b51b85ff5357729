package org.cyclediffusion.core.pipeline;

import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The outcome of an edit.
 *
 * @param images     8-bit images (output type pil and np; empty for latent)
 * @param imagesNp   [N, H, W, 3] floats in [0, 1] (diffusers' np output; null for latent)
 * @param latents    final target latents [N, 4, h, w]
 * @param verdicts   one safety verdict per image, or empty when no checker ran
 * @param timings    where the time went
 */
public record EditResult(List<RgbImage> images, FloatTensor imagesNp, FloatTensor latents, Optional<List<SafetyVerdict>> verdicts,
        Timings timings) {

    /** diffusers' {@code nsfw_content_detected}: empty when no checker ran. */
    public Optional<boolean[]> nsfwContentDetected() {
        return verdicts.map(v -> {
            boolean[] out = new boolean[v.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = v.get(i).nsfw();
            }
            return out;
        });
    }
}
