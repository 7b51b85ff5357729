package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.tensor.TorchMath;

/**
 * The VAE posterior, diffusers' {@code DiagonalGaussianDistribution}: mean and log-variance, the
 * latter clamped to [-30, 20] as diffusers does when it builds the distribution.
 */
public record LatentDistribution(FloatTensor mean, FloatTensor logvar) {

    /** Splits {@code moments} [B, 2C, h, w] (mean then log-variance on axis 1) and clamps. */
    public static LatentDistribution fromMoments(FloatTensor moments) {
        int[] s = moments.shape();
        if (s.length != 4 || s[1] % 2 != 0) {
            throw new IllegalArgumentException("VAE moments: expected [B, 2C, h, w], found " + moments);
        }
        int b = s[0];
        int c = s[1] / 2;
        int plane = s[2] * s[3];
        float[] m = moments.data();
        float[] mean = new float[b * c * plane];
        float[] logvar = new float[b * c * plane];
        for (int i = 0; i < b; i++) {
            System.arraycopy(m, (i * 2 * c) * plane, mean, i * c * plane, c * plane);
            System.arraycopy(m, (i * 2 * c + c) * plane, logvar, i * c * plane, c * plane);
        }
        for (int i = 0; i < logvar.length; i++) {
            logvar[i] = Math.min(20f, Math.max(-30f, logvar[i]));
        }
        return new LatentDistribution(new FloatTensor(mean, b, c, s[2], s[3]), new FloatTensor(logvar, b, c, s[2], s[3]));
    }

    /** {@code exp(0.5 * logvar)}, with torch's float32 exp so that seeds reproduce diffusers' latents bit for bit. */
    public FloatTensor std() {
        float[] lv = logvar.data();
        float[] out = new float[lv.length];
        for (int i = 0; i < lv.length; i++) {
            out[i] = TorchMath.exp(0.5f * lv[i]);
        }
        return new FloatTensor(out, logvar.shape());
    }

    /** {@code mean + std * randn(mean.shape)}: one draw from the noise source. */
    public FloatTensor sample(NoiseSource noise) {
        FloatTensor eps = noise.randn(mean.shape());
        FloatTensor std = std();
        float[] out = new float[eps.size()];
        float[] m = mean.data();
        float[] sd = std.data();
        float[] e = eps.data();
        for (int i = 0; i < out.length; i++) {
            out[i] = m[i] + sd[i] * e[i];
        }
        return new FloatTensor(out, mean.shape());
    }
}
