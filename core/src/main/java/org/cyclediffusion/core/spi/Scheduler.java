package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * A diffusion sampler, mirroring diffusers' scheduler API in camelCase. Stateful like diffusers'
 * (the step count set by {@link #setTimesteps}); one instance per edit.
 */
public interface Scheduler {
    /** {@code num_train_timesteps} (1000 for Stable Diffusion). */
    int numTrainTimesteps();

    /** Chooses the inference schedule of {@code numInferenceSteps} steps. */
    void setTimesteps(int numInferenceSteps);

    /** Steps chosen by the last {@link #setTimesteps} call, largest timestep first. */
    int numInferenceSteps();

    /** The timesteps of the inference schedule, in the order they run. */
    int[] timesteps();

    /** Scheduler steps per model evaluation ({@code order}; 1 for DDIM). */
    default int order() {
        return 1;
    }

    PredictionType predictionType();

    /** Input scaling some samplers need before the UNet; identity for DDIM. */
    FloatTensor scaleModelInput(FloatTensor sample, int timestep);

    /** Forward process q(x_t | x_0): {@code sqrt(ᾱ_t)·x0 + sqrt(1−ᾱ_t)·noise}, one timestep per batch row. */
    FloatTensor addNoise(FloatTensor originalSamples, FloatTensor noise, int[] timesteps);

    /**
     * One reverse step x_t → x_{t−1}.
     *
     * @param varianceNoise the noise for the stochastic part (eta &gt; 0); null to let the scheduler
     *                      decide (DDIM then adds none).
     */
    StepOutput step(FloatTensor modelOutput, int timestep, FloatTensor sample, float eta, FloatTensor varianceNoise);
}
