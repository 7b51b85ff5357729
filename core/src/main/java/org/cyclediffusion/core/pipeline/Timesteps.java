package org.cyclediffusion.core.pipeline;

import java.util.Arrays;

/** The pipeline's strength slicing of a schedule (diffusers' {@code get_timesteps}). */
public final class Timesteps {
    private Timesteps() {
    }

    /**
     * {@code init = min(int(n·strength), n)}, {@code tStart = max(n − init, 0)}, and the schedule from
     * {@code tStart·order} on: an edit starts part-way down the noise schedule.
     */
    public static int[] forStrength(int[] schedule, int numInferenceSteps, double strength, int order) {
        int init = Math.min((int) (numInferenceSteps * strength), numInferenceSteps);
        int tStart = Math.max(numInferenceSteps - init, 0);
        return Arrays.copyOfRange(schedule, Math.min(tStart * order, schedule.length), schedule.length);
    }
}
