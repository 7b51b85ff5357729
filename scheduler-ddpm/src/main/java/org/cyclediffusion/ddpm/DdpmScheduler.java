package org.cyclediffusion.ddpm;

import java.util.Objects;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.spi.PredictionType;
import org.cyclediffusion.core.spi.StepOutput;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.ddim.DdimConfig;
import org.cyclediffusion.ddim.DiscreteSchedules;
import org.cyclediffusion.ddim.DynamicThresholding;
import org.cyclediffusion.ddim.NoiseSchedule;

/**
 * DDPM ancestral sampling (Ho, Jain and Abbeel 2020, arXiv 2006.11239), diffusers v0.23.0
 * {@code DDPMScheduler} in float32 with its operations in its order, plus the DPM-Encoder
 * operations (Wu and De la Torre 2022, §3), which diffusers' cycle pipeline does not offer for it.
 *
 * <p>One reverse step from t to t' = t − T/n (strided, as diffusers' {@code previous_timestep}):
 * μ_θ = c₀·x̂₀ + c_t·x_t with c₀ = √ᾱ_{t'}·β_t/(1 − ᾱ_t), c_t = √α_t·(1 − ᾱ_{t'})/(1 − ᾱ_t), where
 * α_t = ᾱ_t/ᾱ_{t'} and β_t = 1 − α_t (eq. 7), then x_{t'} = μ_θ + σ_t·z for t &gt; 0.
 *
 * <p>The DPM-Encoder's source chain samples the forward posterior q(x_{t'} | x_t, x_0), whose mean
 * is the same formula with the true x_0 and whose variance is β̃_t = (1 − ᾱ_{t'})/(1 − ᾱ_t)·β_t,
 * whatever {@code variance_type} the reverse step uses; z_t = (x_{t'} − μ_θ)/σ_t then makes this
 * sampler's own step land there exactly (to float32 rounding). Where the step adds no noise (t = 0)
 * the noise cannot move it, and zero is recovered.
 */
public final class DdpmScheduler implements DpmEncoder {
    private final DdpmConfig config;
    private final DdimConfig shared;
    private final float[] alphasCumprod;
    private final DynamicThresholding thresholding;
    private int numInferenceSteps;
    private int[] timesteps;

    public DdpmScheduler(DdpmConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        this.shared = config.shared();
        this.alphasCumprod = NoiseSchedule.of(shared).alphasCumprod();
        this.thresholding = shared.thresholding() ? new DynamicThresholding(shared.dynamicThresholdingRatio(), shared.sampleMaxValue()) : null;
        this.timesteps = DiscreteSchedules.allTimesteps(shared.numTrainTimesteps());
    }

    public DdpmConfig config() {
        return config;
    }

    @Override
    public int numTrainTimesteps() {
        return shared.numTrainTimesteps();
    }

    @Override
    public PredictionType predictionType() {
        return shared.predictionType();
    }

    @Override
    public void setTimesteps(int n) {
        this.timesteps = DiscreteSchedules.timesteps(shared, n);
        this.numInferenceSteps = n;
    }

    @Override
    public int numInferenceSteps() {
        return numInferenceSteps;
    }

    @Override
    public int[] timesteps() {
        return timesteps.clone();
    }

    /** Identity ({@code init_noise_sigma} is 1). */
    @Override
    public FloatTensor scaleModelInput(FloatTensor sample, int timestep) {
        return sample;
    }

    /** diffusers' {@code previous_timestep}: {@code t − T // n}. */
    public int previousTimestep(int timestep) {
        if (numInferenceSteps == 0) {
            throw new IllegalStateException("the number of inference steps is not set: call setTimesteps before stepping");
        }
        return timestep - shared.numTrainTimesteps() / numInferenceSteps;
    }

    @Override
    public FloatTensor addNoise(FloatTensor originalSamples, FloatTensor noise, int[] ts) {
        return DiscreteSchedules.addNoise(alphasCumprod, originalSamples, noise, ts);
    }

    /** Ho et al. eq. 7 with x̂₀ from the model, plus σ_t·z when t &gt; 0 and z is given. */
    @Override
    public StepOutput step(FloatTensor modelOutput, int timestep, FloatTensor sample, FloatTensor varianceNoise) {
        requireSameShape("modelOutput", modelOutput, "sample", sample);
        Coefficients c = coefficients(timestep);
        float[] x0 = predictOriginal(modelOutput, sample, c);
        float[] prev = mean(x0, sample.data(), c);
        if (varianceNoise != null && c.std != 0) {
            requireSameShape("varianceNoise", varianceNoise, "sample", sample);
            float[] z = varianceNoise.data();
            for (int i = 0; i < prev.length; i++) {
                prev[i] = prev[i] + c.std * z[i];
            }
        }
        return new StepOutput(new FloatTensor(prev, sample.shape()), new FloatTensor(x0, sample.shape()));
    }

    /** A draw from q(x_{t'} | x_t, x_0) = N(c₀·x_0 + c_t·x_t, β̃_t); x_0 itself, with no draw, when β̃_t = 0 (t' &lt; 0). */
    @Override
    public FloatTensor posteriorSample(FloatTensor sample, FloatTensor cleanSample, int timestep, NoiseSource noise) {
        requireSameShape("cleanSample", cleanSample, "sample", sample);
        Coefficients c = coefficients(timestep);
        if (!(c.posteriorVariance > 0)) {
            return cleanSample.copy();
        }
        float[] mean = mean(cleanSample.data(), sample.data(), c);
        float[] n = noise.randn(sample.shape()).data();
        float std = sqrt(c.posteriorVariance);
        for (int i = 0; i < mean.length; i++) {
            mean[i] = mean[i] + std * n[i];
        }
        return new FloatTensor(mean, sample.shape());
    }

    /** z_t = (x_{t'} − μ_θ)/σ_t, so that {@link #step} lands on {@code prevSample}; zero where the step adds no noise. */
    @Override
    public FloatTensor recoverNoise(FloatTensor prevSample, FloatTensor sample, int timestep, FloatTensor modelOutput) {
        requireSameShape("prevSample", prevSample, "sample", sample);
        requireSameShape("modelOutput", modelOutput, "sample", sample);
        Coefficients c = coefficients(timestep);
        float[] out = new float[sample.size()];
        if (c.std == 0) {
            return new FloatTensor(out, sample.shape());
        }
        float[] mean = mean(predictOriginal(modelOutput, sample, c), sample.data(), c);
        float[] prev = prevSample.data();
        for (int i = 0; i < out.length; i++) {
            out[i] = (prev[i] - mean[i]) / c.std;
        }
        return new FloatTensor(out, sample.shape());
    }

    /** The scalars of one step, each a float32 as torch computes them. */
    private record Coefficients(float sqrtAlphaProdT, float sqrtBetaProdT, float originalCoefficient, float sampleCoefficient,
                                float posteriorVariance, float std) {
    }

    private Coefficients coefficients(int t) {
        int prev = previousTimestep(t);
        float a = alphaCumprod(t);
        float ap = prev >= 0 ? alphaCumprod(prev) : 1.0f;
        float betaProdT = 1 - a;
        float betaProdTPrev = 1 - ap;
        float currentAlpha = a / ap;
        float currentBeta = 1 - currentAlpha;
        float c0 = (sqrt(ap) * currentBeta) / betaProdT;
        float ct = sqrt(currentAlpha) * betaProdTPrev / betaProdT;
        // _get_variance: β̃_t, clamped at 1e-20 before the variance type picks from it
        float posterior = (1 - ap) / (1 - a) * currentBeta;
        float clamped = Math.max(posterior, 1e-20f);
        float std = 0;
        if (t > 0) {
            std = switch (config.varianceType()) {
                case FIXED_SMALL -> sqrt(clamped);
                case FIXED_SMALL_LOG -> (float) Math.exp(0.5f * (float) Math.log(clamped));
                case FIXED_LARGE -> sqrt(currentBeta);
            };
        }
        return new Coefficients(sqrt(a), sqrt(betaProdT), c0, ct, posterior, std);
    }

    private float[] predictOriginal(FloatTensor modelOutput, FloatTensor sample, Coefficients c) {
        float[] m = modelOutput.data();
        float[] x = sample.data();
        float[] x0 = new float[x.length];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = switch (shared.predictionType()) {
                case EPSILON -> (x[i] - c.sqrtBetaProdT * m[i]) / c.sqrtAlphaProdT;
                case SAMPLE -> m[i];
                case V_PREDICTION -> c.sqrtAlphaProdT * x[i] - c.sqrtBetaProdT * m[i];
            };
        }
        if (thresholding != null) {
            thresholding.apply(x0, sample.dim(0));
        } else if (shared.clipSample()) {
            float range = (float) shared.clipSampleRange();
            for (int i = 0; i < x0.length; i++) {
                x0[i] = Math.min(Math.max(x0[i], -range), range);
            }
        }
        return x0;
    }

    /** c₀·x₀ + c_t·x_t, diffusers' {@code pred_prev_sample} before the noise. */
    private static float[] mean(float[] x0, float[] x, Coefficients c) {
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = c.originalCoefficient * x0[i] + c.sampleCoefficient * x[i];
        }
        return out;
    }

    private float alphaCumprod(int t) {
        if (t < 0 || t >= alphasCumprod.length) {
            throw new IllegalArgumentException("timestep " + t + " outside [0, " + alphasCumprod.length + ")");
        }
        return alphasCumprod[t];
    }

    /** {@code x ** 0.5}: torch dispatches to sqrt, correctly rounded. */
    private static float sqrt(float x) {
        return (float) Math.sqrt(x);
    }

    private static void requireSameShape(String name, FloatTensor t, String otherName, FloatTensor other) {
        DiscreteSchedules.requireSameShape(name, t, otherName, other);
    }
}
