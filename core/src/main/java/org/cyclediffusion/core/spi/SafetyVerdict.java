package org.cyclediffusion.core.spi;

/**
 * The checker's verdict on one image. Scores are {@code cos − threshold + adjustment} per concept
 * (empty when the model only returns flags).
 */
public record SafetyVerdict(boolean nsfw, float[] specialScores, float[] conceptScores) {
    public static SafetyVerdict flagOnly(boolean nsfw) {
        return new SafetyVerdict(nsfw, new float[0], new float[0]);
    }
}
