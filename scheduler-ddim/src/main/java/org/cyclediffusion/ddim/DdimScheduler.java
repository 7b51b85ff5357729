package org.cyclediffusion.ddim;

import java.util.Arrays;
import java.util.Objects;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.spi.PredictionType;
import org.cyclediffusion.core.spi.StepOutput;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * DDIM (Song, Meng and Ermon 2021, arXiv 2010.02502), diffusers v0.23.0 {@code DDIMScheduler}, plus
 * the DPM-Encoder operations of CycleDiffusion (Wu and De la Torre 2022, arXiv 2210.05559).
 *
 * <p>Every quantity is computed in float32 with the operations and the order of diffusers on torch's
 * CPU kernels ({@code ᾱ} values are 0-dim float32 tensors there, {@code x ** 0.5} is a correctly
 * rounded sqrt), so outputs are bit-identical to diffusers'.
 *
 * <p>Where we differ from diffusers' {@code compute_noise} (documented, tested): v-prediction and
 * sample-prediction outputs are converted with the step's own formulas before the noise is
 * recovered; x_0 is clipped or thresholded exactly as {@link #step} does; eta ≤ 0 is rejected; a
 * step with zero variance recovers zero noise instead of dividing by zero.
 *
 * <p>One instance is one chain. Its stochasticity η is DDIM's own option, fixed at construction and
 * used by the SPI methods; the methods that take {@code eta} explicitly mirror diffusers' signatures.
 */
public final class DdimScheduler implements DpmEncoder {
    private final DdimConfig config;
    private final float eta;
    private final NoiseSchedule schedule;
    private final DynamicThresholding thresholding;
    private int numInferenceSteps;
    private int[] timesteps;

    /** A chain with diffusers' default step eta, 0 (deterministic DDIM; cannot encode). */
    public DdimScheduler(DdimConfig config) {
        this(config, 0f);
    }

    /** A chain with stochasticity {@code eta} (σ_t = η·σ_DDPM, DDIM eq. 16). */
    public DdimScheduler(DdimConfig config, float eta) {
        this.config = Objects.requireNonNull(config, "config");
        this.eta = eta;
        this.schedule = NoiseSchedule.of(config);
        this.thresholding = config.thresholding()
                ? new DynamicThresholding(config.dynamicThresholdingRatio(), config.sampleMaxValue())
                : null;
        // before set_timesteps diffusers holds every training timestep, largest first
        this.timesteps = DiscreteSchedules.allTimesteps(config.numTrainTimesteps());
    }

    public DdimConfig config() {
        return config;
    }

    /** This chain's η. */
    public float eta() {
        return eta;
    }

    public NoiseSchedule noiseSchedule() {
        return schedule;
    }

    @Override
    public int numTrainTimesteps() {
        return config.numTrainTimesteps();
    }

    @Override
    public PredictionType predictionType() {
        return config.predictionType();
    }

    @Override
    public void setTimesteps(int numInferenceSteps) {
        this.timesteps = DiscreteSchedules.timesteps(config, numInferenceSteps);
        this.numInferenceSteps = numInferenceSteps;
    }

    /** The steps of the last {@link #setTimesteps} call, 0 before the first. */
    @Override
    public int numInferenceSteps() {
        return numInferenceSteps;
    }

    @Override
    public int[] timesteps() {
        return timesteps.clone();
    }

    /** Identity: DDIM needs no input scaling ({@code init_noise_sigma} is 1). */
    @Override
    public FloatTensor scaleModelInput(FloatTensor sample, int timestep) {
        return sample;
    }

    /**
     * The timestep a step from {@code timestep} lands on: {@code t − T // n} for every spacing, as
     * diffusers' {@code step}, {@code posterior_sample} and {@code compute_noise} compute it (so with
     * {@code trailing} or {@code linspace} spacing it need not be the next timestep run).
     */
    public int prevTimestep(int timestep) {
        requireTimesteps();
        alphaCumprod(timestep); // range check
        return timestep - config.numTrainTimesteps() / numInferenceSteps;
    }

    /** ᾱ at a previous timestep: {@code final_alpha_cumprod} when it is negative. */
    private float alphaProdPrev(int prevTimestep) {
        return prevTimestep >= 0 ? schedule.alphaCumprod(prevTimestep) : schedule.finalAlphaCumprod();
    }

    /**
     * diffusers' {@code _get_variance(t, prev)}: σ²/η² = (1 − ᾱ_prev)/(1 − ᾱ_t) · (1 − ᾱ_t/ᾱ_prev),
     * DDIM eq. (16) without η.
     */
    public float variance(int timestep, int prevTimestep) {
        float alphaProdT = alphaCumprod(timestep);
        float alphaProdTPrev = prevTimestep >= 0 ? alphaCumprod(prevTimestep) : schedule.finalAlphaCumprod();
        float betaProdT = 1 - alphaProdT;
        float betaProdTPrev = 1 - alphaProdTPrev;
        return (betaProdTPrev / betaProdT) * (1 - alphaProdT / alphaProdTPrev);
    }

    private float alphaCumprod(int timestep) {
        if (timestep < 0 || timestep >= schedule.size()) {
            throw new IllegalArgumentException("timestep " + timestep + " outside [0, " + schedule.size() + ")");
        }
        return schedule.alphaCumprod(timestep);
    }

    /**
     * DDIM eq. (12): x_{t−1} = √ᾱ_prev·x̂_0 + √(1 − ᾱ_prev − σ_t²)·ε̂ + σ_t·z, with σ_t = η·√variance.
     * Noise is added only when {@code eta > 0} and {@code varianceNoise} is given (diffusers would draw
     * it from a generator; the SPI leaves that to the caller).
     */
    @Override
    public StepOutput step(FloatTensor modelOutput, int timestep, FloatTensor sample, FloatTensor varianceNoise) {
        return step(modelOutput, timestep, sample, eta, varianceNoise);
    }

    /** diffusers' {@code step(model_output, timestep, sample, eta, variance_noise=…)} with an explicit η. */
    public StepOutput step(FloatTensor modelOutput, int timestep, FloatTensor sample, float eta, FloatTensor varianceNoise) {
        requireSameShape("modelOutput", modelOutput, "sample", sample);
        if (varianceNoise != null) {
            requireSameShape("varianceNoise", varianceNoise, "sample", sample);
        }
        Coefficients c = coefficients(timestep, eta);
        Prediction p = predict(modelOutput, sample, c);
        float[] prev = deterministicPrevSample(p, c);
        if (eta > 0 && varianceNoise != null) {
            float[] z = varianceNoise.data();
            for (int i = 0; i < prev.length; i++) {
                prev[i] = prev[i] + c.stdDevT * z[i];
            }
        }
        return new StepOutput(new FloatTensor(prev, sample.shape()), new FloatTensor(p.originalSample, sample.shape()));
    }

    /** Forward process q(x_t | x_0) = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, one timestep per batch row (or one for all). */
    @Override
    public FloatTensor addNoise(FloatTensor originalSamples, FloatTensor noise, int[] timesteps) {
        return DiscreteSchedules.addNoise(schedule.alphasCumprod(), originalSamples, noise, timesteps);
    }

    /**
     * CycleDiffusion's {@code posterior_sample}: x_{t−1} ~ q_σ(x_{t−1} | x_t, x_0) of DDIM eq. (7),
     * √ᾱ_prev·x_0 + √(1 − ᾱ_prev − σ_t²)·(x_t − √ᾱ_t·x_0)/√(1 − ᾱ_t) + σ_t·n with one draw n.
     * When the previous timestep is ≤ 0 it returns (a copy of) x_0 and draws nothing.
     */
    @Override
    public FloatTensor posteriorSample(FloatTensor sample, FloatTensor cleanSample, int timestep, NoiseSource noise) {
        return posteriorSample(sample, cleanSample, timestep, eta, noise);
    }

    /** CycleDiffusion's {@code posterior_sample} with an explicit η (see {@link #posteriorSample(FloatTensor, FloatTensor, int, NoiseSource)}). */
    public FloatTensor posteriorSample(FloatTensor sample, FloatTensor cleanSample, int timestep, float eta, NoiseSource noise) {
        requireStochastic(eta, "posteriorSample");
        requireSameShape("cleanSample", cleanSample, "sample", sample);
        int prevTimestep = prevTimestep(timestep);
        if (prevTimestep <= 0) {
            return cleanSample.copy();
        }
        Coefficients c = coefficients(timestep, eta);
        float[] xt = sample.data();
        float[] x0 = cleanSample.data();
        float[] n = noise.randn(cleanSample.shape()).data();
        if (n.length != x0.length) {
            throw new IllegalStateException("noise source returned " + n.length + " values for shape "
                    + Arrays.toString(cleanSample.shape()));
        }
        float[] out = new float[x0.length];
        for (int i = 0; i < out.length; i++) {
            float eT = (xt[i] - c.sqrtAlphaProdT * x0[i]) / c.sqrtBetaProdT;
            float dirXt = c.directionCoefficient * eT;
            out[i] = c.sqrtAlphaProdTPrev * x0[i] + dirXt + c.stdDevT * n[i];
        }
        return new FloatTensor(out, cleanSample.shape());
    }

    /**
     * CycleDiffusion's {@code compute_noise}: z = (x_{t−1} − √ᾱ_prev·x̂_0 − √(1 − ᾱ_prev − σ_t²)·ε̂)/σ_t,
     * so that {@code step(modelOutput, timestep, sample, eta, z)} lands on {@code prevSample}. x̂_0 and
     * ε̂ come from the model output exactly as {@link #step} derives them, for every prediction type
     * (diffusers treats any output as ε, which breaks v-prediction models); for ε models the
     * arithmetic is diffusers' own, bit for bit.
     *
     * @throws IllegalArgumentException for eta ≤ 0, where σ_t = 0 and no noise can be recovered
     */
    @Override
    public FloatTensor recoverNoise(FloatTensor prevSample, FloatTensor sample, int timestep, FloatTensor modelOutput) {
        return recoverNoise(prevSample, sample, timestep, modelOutput, eta);
    }

    /** CycleDiffusion's {@code compute_noise} with an explicit η. */
    public FloatTensor recoverNoise(FloatTensor prevSample, FloatTensor sample, int timestep, FloatTensor modelOutput, float eta) {
        requireStochastic(eta, "recoverNoise");
        requireSameShape("prevSample", prevSample, "sample", sample);
        requireSameShape("modelOutput", modelOutput, "sample", sample);
        Coefficients c = coefficients(timestep, eta);
        float[] out = new float[sample.size()];
        if (c.variance == 0) {
            // σ_t = 0 (e.g. set_alpha_to_one at the last step): the step ignores its noise, so any z
            // reproduces it and none can move it; diffusers divides by zero here.
            return new FloatTensor(out, sample.shape());
        }
        Prediction p = predict(modelOutput, sample, c);
        float[] mean = deterministicPrevSample(p, c);
        float[] prev = prevSample.data();
        float denominator = TorchFloat32.sqrt(c.variance) * eta;
        for (int i = 0; i < out.length; i++) {
            out[i] = (prev[i] - mean[i]) / denominator;
        }
        return new FloatTensor(out, sample.shape());
    }

    /** The scalars of one step from {@code timestep}, each rounded to float32 as torch rounds it. */
    private record Coefficients(float sqrtAlphaProdT, float sqrtBetaProdT, float sqrtAlphaProdTPrev, float variance,
                                float stdDevT, float directionCoefficient) {
    }

    private Coefficients coefficients(int timestep, float eta) {
        int prevTimestep = prevTimestep(timestep);
        float alphaProdT = alphaCumprod(timestep);
        float alphaProdTPrev = alphaProdPrev(prevTimestep);
        float betaProdT = 1 - alphaProdT;
        float variance = variance(timestep, prevTimestep);
        float stdDevT = eta * TorchFloat32.sqrt(variance);
        // (1 − ᾱ_prev − σ²) ** 0.5, subtracting left to right; NaN if eta > 1 makes it negative, as in torch
        float direction = TorchFloat32.sqrt(1 - alphaProdTPrev - stdDevT * stdDevT);
        return new Coefficients(TorchFloat32.sqrt(alphaProdT), TorchFloat32.sqrt(betaProdT),
                TorchFloat32.sqrt(alphaProdTPrev), variance, stdDevT, direction);
    }

    /** The model's x̂_0 (clipped or thresholded) and ε̂, DDIM eq. (12) and diffusers' step 3–4. */
    private record Prediction(float[] originalSample, float[] epsilon) {
    }

    private Prediction predict(FloatTensor modelOutput, FloatTensor sample, Coefficients c) {
        float[] m = modelOutput.data();
        float[] x = sample.data();
        float[] x0 = new float[x.length];
        float[] eps;
        switch (config.predictionType()) {
            case EPSILON -> {
                for (int i = 0; i < x.length; i++) {
                    x0[i] = (x[i] - c.sqrtBetaProdT * m[i]) / c.sqrtAlphaProdT;
                }
                eps = m;
            }
            case SAMPLE -> {
                eps = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    x0[i] = m[i];
                    eps[i] = (x[i] - c.sqrtAlphaProdT * m[i]) / c.sqrtBetaProdT;
                }
            }
            case V_PREDICTION -> {
                // v = √ᾱ_t·ε − √(1 − ᾱ_t)·x_0 (Salimans and Ho 2022, arXiv 2202.00512)
                eps = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    x0[i] = c.sqrtAlphaProdT * x[i] - c.sqrtBetaProdT * m[i];
                    eps[i] = c.sqrtAlphaProdT * m[i] + c.sqrtBetaProdT * x[i];
                }
            }
            default -> throw new IllegalStateException("prediction type " + config.predictionType());
        }
        if (thresholding != null) {
            thresholding.apply(x0, sample.rank() == 0 ? 1 : sample.dim(0));
        } else if (config.clipSample()) {
            float range = (float) config.clipSampleRange();
            for (int i = 0; i < x0.length; i++) {
                x0[i] = Math.min(Math.max(x0[i], -range), range);
            }
        }
        return new Prediction(x0, eps);
    }

    /** √ᾱ_prev·x̂_0 + √(1 − ᾱ_prev − σ²)·ε̂: the step without its noise term. */
    private static float[] deterministicPrevSample(Prediction p, Coefficients c) {
        float[] x0 = p.originalSample;
        float[] eps = p.epsilon;
        float[] out = new float[x0.length];
        for (int i = 0; i < out.length; i++) {
            float predSampleDirection = c.directionCoefficient * eps[i];
            out[i] = c.sqrtAlphaProdTPrev * x0[i] + predSampleDirection;
        }
        return out;
    }

    private void requireTimesteps() {
        if (numInferenceSteps == 0) {
            throw new IllegalStateException("the number of inference steps is not set: call setTimesteps before stepping");
        }
    }

    private static void requireStochastic(float eta, String operation) {
        if (!(eta > 0) || !Float.isFinite(eta)) {
            throw new IllegalArgumentException(operation + ": eta = " + eta + " cannot be used by the DPM-Encoder: it needs a"
                    + " stochastic DDIM step (eta > 0), since with eta = 0 the step ignores its noise and the noise"
                    + " cannot be recovered (diffusers divides by zero and silently decouples the edit from the source"
                    + " image); use eta > 0, e.g. 0.1");
        }
    }

    private static void requireSameShape(String name, FloatTensor t, String otherName, FloatTensor other) {
        DiscreteSchedules.requireSameShape(name, t, otherName, other);
    }
}
