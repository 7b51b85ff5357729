package org.cyclediffusion.ddim;

import java.util.Arrays;

/**
 * Imagen's dynamic thresholding of the predicted x_0 (Saharia et al. 2022, arXiv 2205.11487, §2.3),
 * diffusers' {@code _threshold_sample}: per batch row, s = quantile(|x_0|, ratio) clamped to
 * [1, sample_max_value]; x_0 is clamped to [−s, s] and divided by s. Unsuitable for latent
 * diffusion such as Stable Diffusion, but part of the DDIM (and DDPM) config.
 */
public final class DynamicThresholding {
    private final float ratio;
    private final float sampleMaxValue;

    public DynamicThresholding(double ratio, double sampleMaxValue) {
        this.ratio = (float) ratio;
        this.sampleMaxValue = (float) sampleMaxValue;
    }

    /** Thresholds {@code x} in place, rows along axis 0 of {@code rows × rowSize} elements. */
    public void apply(float[] x, int rows) {
        int rowSize = x.length / rows;
        for (int r = 0; r < rows; r++) {
            int from = r * rowSize;
            float s = Math.min(Math.max(quantileOfAbs(x, from, rowSize), 1.0f), sampleMaxValue);
            for (int i = from; i < from + rowSize; i++) {
                x[i] = Math.min(Math.max(x[i], -s), s) / s;
            }
        }
    }

    /**
     * torch.quantile with linear interpolation, in float32 as torch computes it: rank = q·(n − 1),
     * lerp between the neighbours (torch's lerp formula switches sides at weight 0.5); a row with a
     * NaN has quantile NaN.
     */
    private float quantileOfAbs(float[] x, int from, int n) {
        float[] sorted = new float[n];
        boolean nan = false;
        for (int i = 0; i < n; i++) {
            sorted[i] = Math.abs(x[from + i]);
            nan |= Float.isNaN(sorted[i]);
        }
        if (nan) {
            return Float.NaN;
        }
        Arrays.sort(sorted);
        float rank = ratio * (float) (n - 1);
        int below = (int) rank;
        int above = (int) Math.ceil(rank);
        float weight = rank - (float) below;
        float lo = sorted[below];
        float hi = sorted[above];
        return weight < 0.5f ? lo + weight * (hi - lo) : hi - (hi - lo) * (1.0f - weight);
    }
}
