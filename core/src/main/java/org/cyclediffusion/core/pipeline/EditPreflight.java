package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DpmEncoding;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.SchedulerFactory;

/**
 * Checks a request against the model folders' configs before any weights load: everything
 * {@link CycleDiffusionPipeline#edit} would refuse, plus what only a network or the sampler would
 * find out later (a clip skip deeper than the text encoder, a step count the schedule cannot
 * take), so that a tool can fail in milliseconds instead of after loading gigabytes. Each failure
 * is an {@link InvalidRequestException} naming the request's fields.
 */
public final class EditPreflight {
    private EditPreflight() {
    }

    /**
     * @param folder       the model (the source chain's)
     * @param targetFolder the target chain's model, or null when it is {@code folder}
     * @param sampler      the sampler the edit will use (the folder's, or the one asked for)
     */
    public static void check(ModelFolder folder, ModelFolder targetFolder, SchedulerFactory sampler, EditRequest request) {
        Plan.of(request);
        SamplerOptions options = new SamplerOptions(request.eta());
        Scheduler scheduler;
        try {
            DpmEncoding encoding = sampler.dpmEncoding().orElse(null);
            scheduler = encoding != null ? encoding.encoder(options) : sampler.create(options);
        } catch (IllegalArgumentException e) {
            String m = e.getMessage() == null ? "eta = " + request.eta() + ": refused by " + sampler.className() : e.getMessage();
            throw new InvalidRequestException(m.startsWith("eta") ? java.util.List.of("eta") : java.util.List.of(), m);
        }
        checkSteps(request.numInferenceSteps(), scheduler);
        checkClipSkip(request, folder);
        if (targetFolder != null) {
            checkClipSkip(request, targetFolder);
        }
    }

    /** diffusers takes {@code hidden_states[-(clip_skip + 1)]}; skipping every layer leaves no encoder, and no backend offers that. */
    private static void checkClipSkip(EditRequest request, ModelFolder folder) {
        if (request.clipSkip() == null || request.clipSkip() <= 0) {
            return;
        }
        int layers = folder.config("text_encoder", "config.json").quietCopy().getInt("num_hidden_layers", 12);
        if (request.clipSkip() >= layers) {
            throw new InvalidRequestException("clipSkip", "clipSkip = " + request.clipSkip() + ": expected 0 to " + (layers - 1)
                    + " (the text encoder of " + folder + " has " + layers + " layers)");
        }
    }

    /**
     * The step count against the sampler's schedule, so that every refused count gets the same
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
                + "] for this model's sampler (" + scheduler.getClass().getSimpleName() + " with num_train_timesteps = "
                + scheduler.numTrainTimesteps() + ")");
    }
}
