package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Scheduler;

/**
 * Checks a request against a model folder's configs before any weights load: everything
 * {@link CycleDiffusionPipeline#edit} would refuse, plus what only the backend would find out
 * later (a clip skip deeper than the text encoder), so that a tool can fail in milliseconds
 * instead of after loading gigabytes.
 */
public final class EditPreflight {
    private EditPreflight() {
    }

    /**
     * @param scheduler a fresh scheduler built from the folder's {@code scheduler_config.json}
     * @throws InvalidRequestException naming the request's field
     */
    public static void check(ModelFolder folder, Scheduler scheduler, EditRequest request) {
        Plan.of(request, scheduler);
        if (request.clipSkip() != null && request.clipSkip() > 0) {
            // diffusers takes hidden_states[-(clip_skip + 1)]; skipping every layer would leave the token
            // embeddings alone, which no backend offers (the ONNX export has no such output)
            int layers = folder.config("text_encoder", "config.json").quietCopy().getInt("num_hidden_layers", 12);
            if (request.clipSkip() >= layers) {
                throw new InvalidRequestException("clipSkip", "clipSkip = " + request.clipSkip() + ": expected 0 to " + (layers - 1)
                        + " (the text encoder of " + folder + " has " + layers + " layers)");
            }
        }
    }
}
