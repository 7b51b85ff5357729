package org.cyclediffusion.core.batch;

import java.util.regex.Pattern;
import org.cyclediffusion.core.pipeline.EditRequest;

/**
 * One row of a batch manifest: one input image, one target prompt, one source prompt and
 * diffusers' call arguments, with diffusers' defaults where the row leaves a field out. Produces
 * {@code numImagesPerPrompt} output images named {@code <id>-<k>.png}.
 *
 * @param line  where the row came from (1-based line of a JSON-lines file, the first line of a CSV
 *              record, or the row number of a Spark table), for messages
 * @param id    unique, a safe file-name stem ({@link #ID_PATTERN})
 * @param image the input image as the manifest names it (relative to the manifest's folder, or absolute)
 * @param seed  null: a random seed, chosen when the item runs and recorded with its result
 * @param clipSkip null: none
 * @param targetModel null: the batch's model runs both chains; else the model of the target chain
 *              (two-model translation), named as {@code --model} is
 */
public record BatchItem(int line, String id, String image, String prompt, String sourcePrompt, double strength, int numInferenceSteps,
        double guidanceScale, double sourceGuidanceScale, double eta, Long seed, int numImagesPerPrompt, Integer clipSkip,
        String targetModel) {

    /**
     * Letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters:
     * a name every file system (and a Hadoop path) takes as it is, and that cannot climb out of the
     * output folder.
     */
    public static final Pattern ID_PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /** The file name of output image {@code k} (diffusers' order). */
    public String outputName(int k) {
        return id + "-" + k + ".png";
    }

    /** The edit this row asks for, with the given seed; the caller adds the decoded input image. */
    public EditRequest.Builder request(long usedSeed) {
        return EditRequest.builder().prompt(prompt).sourcePrompt(sourcePrompt).strength(strength)
                .numInferenceSteps(numInferenceSteps).guidanceScale(guidanceScale).sourceGuidanceScale(sourceGuidanceScale).eta(eta)
                .seed(usedSeed).numImagesPerPrompt(numImagesPerPrompt).clipSkip(clipSkip);
    }
}
