package org.cyclediffusion.ddim;

/**
 * The training noise schedule of a {@link DdimConfig}: {@code betas}, {@code alphas_cumprod} (ᾱ_t)
 * and {@code final_alpha_cumprod}, computed in float32 with the same operations, in the same order,
 * as diffusers v0.23.0 {@code DDIMScheduler.__init__} running on torch's CPU kernels.
 */
public final class NoiseSchedule {
    private final float[] betas;
    private final float[] alphasCumprod;
    private final float finalAlphaCumprod;

    private NoiseSchedule(float[] betas, float[] alphasCumprod, float finalAlphaCumprod) {
        this.betas = betas;
        this.alphasCumprod = alphasCumprod;
        this.finalAlphaCumprod = finalAlphaCumprod;
    }

    public static NoiseSchedule of(DdimConfig config) {
        int n = config.numTrainTimesteps();
        float[] betas;
        double[] trained = config.trainedBetas();
        if (trained != null) {
            // torch.tensor(trained_betas, dtype=float32): each Python float rounded to float
            betas = new float[n];
            for (int i = 0; i < n; i++) {
                betas[i] = (float) trained[i];
            }
        } else {
            betas = switch (config.betaSchedule()) {
                case LINEAR -> TorchFloat32.linspace(config.betaStart(), config.betaEnd(), n);
                case SCALED_LINEAR -> squared(TorchFloat32.linspace(Math.sqrt(config.betaStart()), Math.sqrt(config.betaEnd()), n));
                case SQUAREDCOS_CAP_V2 -> cosineBetas(n);
            };
        }
        if (config.rescaleBetasZeroSnr()) {
            betas = rescaleZeroTerminalSnr(betas);
        }
        float[] alphasCumprod = TorchFloat32.cumprod(oneMinus(betas));
        // set_alpha_to_one: the step after t = 0 lands on ᾱ = 1 (pure data) or reuses ᾱ_0
        float finalAlphaCumprod = config.setAlphaToOne() ? 1.0f : alphasCumprod[0];
        return new NoiseSchedule(betas, alphasCumprod, finalAlphaCumprod);
    }

    /** β_t, a copy. */
    public float[] betas() {
        return betas.clone();
    }

    /** ᾱ_t = ∏_{s ≤ t} (1 − β_s), a copy. */
    public float[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    /** ᾱ_t without copying, for the hot path of the scheduler. */
    float alphaCumprod(int t) {
        return alphasCumprod[t];
    }

    /** The ᾱ a step lands on when its previous timestep is negative. */
    public float finalAlphaCumprod() {
        return finalAlphaCumprod;
    }

    public int size() {
        return alphasCumprod.length;
    }

    private static float[] squared(float[] x) {
        // tensor ** 2: torch's pow kernel specialises exponent 2 to x·x
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * x[i];
        }
        return out;
    }

    private static float[] oneMinus(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = 1.0f - x[i];
        }
        return out;
    }

    /** diffusers' {@code betas_for_alpha_bar(n)} (cosine, max beta 0.999), in Python doubles, then float32. */
    private static float[] cosineBetas(int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n;
            double t2 = (double) (i + 1) / n;
            out[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), 0.999);
        }
        return out;
    }

    private static double alphaBar(double t) {
        // fdlibm's cos, like glibc's, is correctly rounded in practice; float32 rounding follows anyway
        double c = StrictMath.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /**
     * diffusers' {@code rescale_zero_terminal_snr} (Lin et al. 2023, Algorithm 1) in float32: shift
     * √ᾱ so the last timestep has zero SNR, rescale so the first keeps its value, back to betas.
     */
    private static float[] rescaleZeroTerminalSnr(float[] betas) {
        float[] sqrtBar = TorchFloat32.cumprod(oneMinus(betas));
        for (int i = 0; i < sqrtBar.length; i++) {
            sqrtBar[i] = TorchFloat32.sqrt(sqrtBar[i]);
        }
        float first = sqrtBar[0];
        float last = sqrtBar[sqrtBar.length - 1];
        float scale = first / (first - last);
        for (int i = 0; i < sqrtBar.length; i++) {
            sqrtBar[i] = (sqrtBar[i] - last) * scale;
        }
        float[] bar = squared(sqrtBar);
        float[] alphas = new float[bar.length];
        alphas[0] = bar[0];
        for (int i = 1; i < bar.length; i++) {
            alphas[i] = bar[i] / bar[i - 1];
        }
        return oneMinus(alphas);
    }
}
