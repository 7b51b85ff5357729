package org.cyclediffusion.core.pipeline;

import java.util.Arrays;

/** The pipeline's strength slicing of a schedule: timestep arithmetic of the img2img family that does not depend on the sampler. */
public final class Timesteps {
    private Timesteps() {
    }

    /**
     * The timesteps an edit of the given {@code strength} runs, diffusers'
     * {@code CycleDiffusionPipeline.get_timesteps}: {@code init = min(int(n·strength), n)},
     * {@code t_start = max(n − init, 0)}, {@code timesteps[t_start·order:]}. Strength 1 runs the
     * whole schedule; a strength so small that {@code int(n·strength) == 0} runs nothing (an empty
     * array; diffusers then fails inside the loop).
     *
     * @param timesteps         the scheduler's schedule after {@code setTimesteps(numInferenceSteps)}
     * @param numInferenceSteps the {@code n} passed to {@code setTimesteps}
     * @param order             the scheduler's {@code order} (1 for DDIM)
     */
    public static int[] forStrength(int[] timesteps, int numInferenceSteps, double strength, int order) {
        if (!(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in [0, 1], found " + strength);
        }
        if (numInferenceSteps < 1) {
            throw new IllegalArgumentException("numInferenceSteps must be at least 1, found " + numInferenceSteps);
        }
        // Python's int() truncates toward zero; n·strength is a double product as in Python
        int init = Math.min((int) (numInferenceSteps * strength), numInferenceSteps);
        int tStart = Math.max(numInferenceSteps - init, 0);
        int from = Math.min(tStart * order, timesteps.length);
        return Arrays.copyOfRange(timesteps, from, timesteps.length);
    }

    /** {@link #forStrength(int[], int, double, int)} for first-order samplers such as DDIM. */
    public static int[] forStrength(int[] timesteps, int numInferenceSteps, double strength) {
        return forStrength(timesteps, numInferenceSteps, strength, 1);
    }
}
