package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The state of one sampling chain, mirroring diffusers' scheduler API in camelCase. Stateful like
 * diffusers' (the step count set by {@link #setTimesteps}, and whatever a multistep sampler keeps
 * between steps): every chain gets its own instance from {@link SchedulerFactory}, never a shared one.
 * Sampler-specific knobs (DDIM's eta, a variance type) were fixed when the instance was created.
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

    /** Scheduler steps per model evaluation ({@code order}; 1 for DDIM and DDPM). */
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
     * @param varianceNoise the noise z of the stochastic part (the DPM-Encoder's latent code at this
     *                      step); null to add none
     */
    StepOutput step(FloatTensor modelOutput, int timestep, FloatTensor sample, FloatTensor varianceNoise);
}
