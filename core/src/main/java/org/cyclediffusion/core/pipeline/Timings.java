package org.cyclediffusion.core.pipeline;

/**
 * Wall-clock milliseconds per phase of one edit. {@code stepsMillis} holds each denoising step;
 * {@code schedulerMillis} is the part of all steps spent in guidance and the sampler's Java math
 * (DESIGN §6 wants it under 1% of the step time).
 */
public record Timings(double promptMillis, double encodeMillis, double[] stepsMillis, double schedulerMillis, double decodeMillis,
        double safetyMillis, double totalMillis) {

    public double meanStepMillis() {
        double s = 0;
        for (double v : stepsMillis) {
            s += v;
        }
        return stepsMillis.length == 0 ? 0 : s / stepsMillis.length;
    }
}
