package org.cyclediffusion.core.pipeline;

import java.util.ArrayList;
import java.util.List;

/**
 * A validated request: every check happens here, before any model runs, and each failure names
 * the parameter, the value and what was expected. Sampler options (eta) are checked by the sampler
 * itself when its chains are created, also before any model runs.
 *
 * @param rows          edit rows before the per-prompt copies
 * @param prompts       target prompts, one per row (empty when embeddings were given, or when encoding)
 * @param sourcePrompts source prompts, one per row (empty when decoding)
 * @param guided        classifier-free guidance on (an edit's: {@code guidanceScale > 1}, as diffusers)
 */
record Plan(int rows, List<String> prompts, List<String> sourcePrompts, boolean guided) {

    /** An edit: both halves, rows from the prompts, the source prompts and the images together. */
    static Plan of(EditRequest r) {
        EncodeRequest source = r.encodeRequest();
        DecodeRequest target = r.decodeRequest();
        checkSourceParameters(source);
        checkTargetParameters(target);
        int promptCount = promptCount(target);
        int imageCount = imageCount(source);
        int rows = Math.max(promptCount, Math.max(r.sourcePrompts().size(), imageCount));
        check("prompt", promptCount, rows);
        check("sourcePrompt", r.sourcePrompts().size(), rows);
        check("image", imageCount, rows);
        return new Plan(rows, targetPrompts(target, rows), spread(nonNull("sourcePrompt", r.sourcePrompts()), rows), target.guided());
    }

    /** The source half alone: rows from the source prompts and the images. */
    static Plan of(EncodeRequest r) {
        checkSourceParameters(r);
        int imageCount = imageCount(r);
        int rows = Math.max(r.sourcePrompts().size(), imageCount);
        check("sourcePrompt", r.sourcePrompts().size(), rows);
        check("image", imageCount, rows);
        return new Plan(rows, List.of(), spread(nonNull("sourcePrompt", r.sourcePrompts()), rows), r.guided());
    }

    /** The target half alone, for a code of {@code rows} rows. */
    static Plan of(DecodeRequest r, int rows) {
        checkTargetParameters(r);
        check("prompt", promptCount(r), rows);
        return new Plan(rows, targetPrompts(r, rows), List.of(), r.guided());
    }

    private static void checkSourceParameters(EncodeRequest r) {
        if (Double.isNaN(r.strength()) || r.strength() < 0 || r.strength() > 1) {
            throw new InvalidRequestException("strength", "strength = " + r.strength() + ": expected a value in [0, 1]");
        }
        if (r.numInferenceSteps() < 1) {
            throw new InvalidRequestException("numInferenceSteps", "numInferenceSteps = " + r.numInferenceSteps() + ": expected at least 1");
        }
        if ((int) (r.numInferenceSteps() * r.strength()) < 1) {
            throw new InvalidRequestException(List.of("strength", "numInferenceSteps"), "strength = " + r.strength() + " with numInferenceSteps = " + r.numInferenceSteps()
                    + " runs no denoising step (int(steps × strength) = 0): expected strength ≥ " + 1.0 / r.numInferenceSteps()
                    + " or more steps");
        }
        if (!Double.isFinite(r.sourceGuidanceScale())) {
            throw new InvalidRequestException("sourceGuidanceScale", "sourceGuidanceScale = " + r.sourceGuidanceScale() + ": expected a finite number");
        }
        if (r.numImagesPerPrompt() < 1) {
            throw new InvalidRequestException("numImagesPerPrompt", "numImagesPerPrompt = " + r.numImagesPerPrompt() + ": expected at least 1");
        }
        checkCommon(r.callbackSteps(), r.clipSkip());
        if (r.sourcePrompts().isEmpty()) {
            throw new InvalidRequestException("sourcePrompt", "sourcePrompt: expected at least one prompt describing the input image");
        }
    }

    private static void checkTargetParameters(DecodeRequest r) {
        if (!Double.isFinite(r.guidanceScale())) {
            throw new InvalidRequestException("guidanceScale", "guidanceScale = " + r.guidanceScale() + ": expected a finite number");
        }
        checkCommon(r.callbackSteps(), r.clipSkip());
        if (r.promptEmbeds() != null) {
            if (!r.prompts().isEmpty()) {
                throw new InvalidRequestException("give either prompts or promptEmbeds, not both");
            }
            if (r.promptEmbeds().rank() != 3) {
                throw new InvalidRequestException("promptEmbeds: expected [rows, 77, hidden], found " + r.promptEmbeds());
            }
        } else if (r.prompts().isEmpty()) {
            throw new InvalidRequestException("prompt", "prompt: expected at least one target prompt");
        }
    }

    private static void checkCommon(int callbackSteps, Integer clipSkip) {
        if (callbackSteps < 1) {
            throw new InvalidRequestException("callbackSteps", "callbackSteps = " + callbackSteps + ": expected at least 1");
        }
        if (clipSkip != null && clipSkip < 0) {
            throw new InvalidRequestException("clipSkip", "clipSkip = " + clipSkip + ": expected 0 or more (or none)");
        }
    }

    private static int promptCount(DecodeRequest r) {
        return r.promptEmbeds() != null ? r.promptEmbeds().dim(0) : r.prompts().size();
    }

    private static List<String> targetPrompts(DecodeRequest r, int rows) {
        return spread(nonNull("prompt", r.prompts()), rows);
    }

    private static int imageCount(EncodeRequest r) {
        if (r.imageTensor() != null) {
            if (!r.images().isEmpty()) {
                throw new InvalidRequestException("give either images or imageTensor, not both");
            }
            if (r.imageTensor().rank() != 4) {
                throw new InvalidRequestException("imageTensor: expected [B, 3, H, W] pixels or [B, 4, h, w] latents, found " + r.imageTensor());
            }
            return r.imageTensor().dim(0);
        }
        if (r.images().isEmpty()) {
            throw new InvalidRequestException("image", "image: expected at least one input image");
        }
        return r.images().size();
    }

    private static List<String> nonNull(String what, List<String> values) {
        for (String p : values) {
            if (p == null) {
                throw new InvalidRequestException(what, what + ": null entry");
            }
        }
        return values;
    }

    private static void check(String what, int count, int rows) {
        if (count != 1 && count != rows) {
            throw new InvalidRequestException(what, what + ": " + count + " given, expected 1 (used for every row) or " + rows
                    + " (one per row; the batch has " + rows + " rows)");
        }
    }

    private static List<String> spread(List<String> values, int rows) {
        if (values.isEmpty() || values.size() == rows) {
            return values;
        }
        List<String> out = new ArrayList<>(rows);
        for (int i = 0; i < rows; i++) {
            out.add(values.get(0));
        }
        return out;
    }
}
