package org.cyclediffusion.core.batch;

/**
 * What decides the source half of an edit (the DPM-Encoder's latent code): the input image, the
 * source prompt, the schedule (strength, steps), the source chain's guidance (its scale, and
 * whether it runs guided at all, which diffusers ties to the target chain's guidance), the copies
 * per prompt, eta, the seed (every random draw is in the source half) and clip skip. Rows with
 * the same key differ only in their target half and can share one encode.
 *
 * @param image the input image as the runner resolved it (the same file gives the same pixels)
 */
public record SourceKey(String image, String sourcePrompt, double strength, int numInferenceSteps, double sourceGuidanceScale,
        boolean guided, int numImagesPerPrompt, double eta, long seed, Integer clipSkip) {

    /** The key of a row, or null when the row has no seed (a random seed is drawn per row: nothing to share). */
    public static SourceKey of(BatchItem item, String image) {
        if (item.seed() == null) {
            return null;
        }
        return new SourceKey(image, item.sourcePrompt(), item.strength(), item.numInferenceSteps(), item.sourceGuidanceScale(),
                item.guidanceScale() > 1.0, item.numImagesPerPrompt(), item.eta(), item.seed(), item.clipSkip());
    }
}
