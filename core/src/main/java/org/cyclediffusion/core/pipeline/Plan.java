package org.cyclediffusion.core.pipeline;

import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.spi.DpmEncodable;
import org.cyclediffusion.core.spi.Scheduler;

/**
 * A validated request: every check happens here, before any model runs, and each failure names
 * the parameter, the value and what was expected.
 *
 * @param rows          edit rows before the per-prompt copies
 * @param prompts       target prompts, one per row (empty when embeddings were given)
 * @param sourcePrompts source prompts, one per row
 * @param guided        classifier-free guidance on ({@code guidanceScale > 1}, as diffusers)
 */
record Plan(int rows, List<String> prompts, List<String> sourcePrompts, boolean guided) {

    static Plan of(EditRequest r, Scheduler scheduler) {
        if (!(scheduler instanceof DpmEncodable)) {
            throw new InvalidRequestException("scheduler " + scheduler.getClass().getSimpleName()
                    + " cannot be used for CycleDiffusion: it offers no posterior sample and noise recovery (DpmEncodable); use DDIMScheduler");
        }
        if (Double.isNaN(r.strength()) || r.strength() < 0 || r.strength() > 1) {
            throw new InvalidRequestException("strength", "strength = " + r.strength() + ": expected a value in [0, 1]");
        }
        if (r.numInferenceSteps() < 1) {
            throw new InvalidRequestException("numInferenceSteps", "numInferenceSteps = " + r.numInferenceSteps() + ": expected at least 1");
        }
        checkSteps(r.numInferenceSteps(), scheduler);
        if ((int) (r.numInferenceSteps() * r.strength()) < 1) {
            throw new InvalidRequestException(List.of("strength", "numInferenceSteps"), "strength = " + r.strength() + " with numInferenceSteps = " + r.numInferenceSteps()
                    + " runs no denoising step (int(steps × strength) = 0): expected strength ≥ " + 1.0 / r.numInferenceSteps()
                    + " or more steps");
        }
        if (!(r.eta() > 0) || Double.isInfinite(r.eta())) {
            // DESIGN §4: noise recovery divides by eta·σ_t. At eta = 0 diffusers recovers ±inf and
            // its DDIM step then drops that noise, silently decoupling the edit from the input.
            throw new InvalidRequestException("eta", "eta = " + r.eta() + ": CycleDiffusion needs a stochastic sampler, expected eta > 0"
                    + " (diffusers' default is 0.1; at eta = 0 the recovered noise is a division by zero and the edit loses the input image)");
        }
        if (!Double.isFinite(r.guidanceScale())) {
            throw new InvalidRequestException("guidanceScale", "guidanceScale = " + r.guidanceScale() + ": expected a finite number");
        }
        if (!Double.isFinite(r.sourceGuidanceScale())) {
            throw new InvalidRequestException("sourceGuidanceScale", "sourceGuidanceScale = " + r.sourceGuidanceScale() + ": expected a finite number");
        }
        if (r.numImagesPerPrompt() < 1) {
            throw new InvalidRequestException("numImagesPerPrompt", "numImagesPerPrompt = " + r.numImagesPerPrompt() + ": expected at least 1");
        }
        if (r.callbackSteps() < 1) {
            throw new InvalidRequestException("callbackSteps", "callbackSteps = " + r.callbackSteps() + ": expected at least 1");
        }
        if (r.clipSkip() != null && r.clipSkip() < 0) {
            throw new InvalidRequestException("clipSkip", "clipSkip = " + r.clipSkip() + ": expected 0 or more (or none)");
        }

        int promptCount;
        if (r.promptEmbeds() != null) {
            if (!r.prompts().isEmpty()) {
                throw new InvalidRequestException("give either prompts or promptEmbeds, not both");
            }
            if (r.promptEmbeds().rank() != 3) {
                throw new InvalidRequestException("promptEmbeds: expected [rows, 77, hidden], found " + r.promptEmbeds());
            }
            promptCount = r.promptEmbeds().dim(0);
        } else {
            if (r.prompts().isEmpty()) {
                throw new InvalidRequestException("prompt", "prompt: expected at least one target prompt");
            }
            promptCount = r.prompts().size();
        }
        if (r.sourcePrompts().isEmpty()) {
            throw new InvalidRequestException("sourcePrompt", "sourcePrompt: expected at least one prompt describing the input image");
        }
        int imageCount;
        if (r.imageTensor() != null) {
            if (!r.images().isEmpty()) {
                throw new InvalidRequestException("give either images or imageTensor, not both");
            }
            if (r.imageTensor().rank() != 4) {
                throw new InvalidRequestException("imageTensor: expected [B, 3, H, W] pixels or [B, 4, h, w] latents, found " + r.imageTensor());
            }
            imageCount = r.imageTensor().dim(0);
        } else {
            if (r.images().isEmpty()) {
                throw new InvalidRequestException("image", "image: expected at least one input image");
            }
            imageCount = r.images().size();
        }
        int rows = Math.max(promptCount, Math.max(r.sourcePrompts().size(), imageCount));
        check("prompt", promptCount, rows);
        check("sourcePrompt", r.sourcePrompts().size(), rows);
        check("image", imageCount, rows);
        for (String p : r.prompts()) {
            if (p == null) {
                throw new InvalidRequestException("prompt", "prompt: null entry");
            }
        }
        for (String p : r.sourcePrompts()) {
            if (p == null) {
                throw new InvalidRequestException("sourcePrompt", "sourcePrompt: null entry");
            }
        }
        return new Plan(rows, spread(r.prompts(), rows), spread(r.sourcePrompts(), rows), r.guidanceScale() > 1.0);
    }

    /**
     * The step count against the scheduler's schedule, so that every refused count gets the same
     * range: with {@code leading} spacing and {@code steps_offset = 1} (Stable Diffusion's config)
     * 1000 steps would reach timestep 1000, outside the trained [0, 999], so the range is [1, 999].
     */
    static void checkSteps(int steps, Scheduler scheduler) {
        try {
            scheduler.setTimesteps(steps);
            return;
        } catch (IllegalArgumentException e) {
            // the largest count the schedule accepts, found the same way the refusal was
        }
        int max = 0;
        for (int n = Math.min(steps - 1, scheduler.numTrainTimesteps()); n >= 1 && max == 0; n--) {
            try {
                scheduler.setTimesteps(n);
                max = n;
            } catch (IllegalArgumentException e) {
                // keep looking
            }
        }
        throw new InvalidRequestException("numInferenceSteps", "numInferenceSteps = " + steps + ": expected a value in [1, " + max
                + "] for this model's scheduler (" + scheduler.getClass().getSimpleName() + " with num_train_timesteps = "
                + scheduler.numTrainTimesteps() + ")");
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
