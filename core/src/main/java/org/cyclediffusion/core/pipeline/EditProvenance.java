package org.cyclediffusion.core.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What produced an edit, in diffusers' parameter names: the one description that every writer of
 * results (the CLI's PNGs and {@code --json}, the server, batch results) uses, so that the same
 * request gives the same metadata wherever it ran.
 *
 * @param software      tool name and version, e.g. {@code cyclediffusion 0.1.0}
 * @param model         the model as the user named it (folder, file or hub id)
 * @param backend       the loaded models' description (backend, device, dtype)
 * @param images        the input images as the user named them, one per request image
 * @param request       the request that ran
 * @param seed          the seed actually used
 * @param safetyChecker whether the safety checker ran
 */
public record EditProvenance(String software, String model, String backend, List<String> images, EditRequest request, long seed,
        boolean safetyChecker) {

    public EditProvenance {
        images = List.copyOf(images);
    }

    /** The parameters as a JSON object (model, backend, images, prompts, diffusers' call arguments, seed). */
    public ObjectNode parameters() {
        ObjectNode p = new ObjectMapper().createObjectNode();
        p.put("model", model);
        p.put("backend", backend);
        ArrayNode im = p.putArray("images");
        images.forEach(im::add);
        ArrayNode pr = p.putArray("prompts");
        request.prompts().forEach(pr::add);
        ArrayNode sp = p.putArray("source_prompts");
        request.sourcePrompts().forEach(sp::add);
        p.put("strength", request.strength());
        p.put("num_inference_steps", request.numInferenceSteps());
        p.put("guidance_scale", request.guidanceScale());
        p.put("source_guidance_scale", request.sourceGuidanceScale());
        p.put("eta", request.eta());
        p.put("num_images_per_prompt", request.numImagesPerPrompt());
        p.put("seed", seed);
        if (request.clipSkip() != null) {
            p.put("clip_skip", request.clipSkip());
        }
        p.put("safety_checker", safetyChecker);
        return p;
    }

    /** PNG {@code tEXt} entries for output row {@code row} (diffusers' order). */
    public Map<String, String> pngText(int row) {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("Software", software);
        text.put("Source", "CycleDiffusion (DPM-Encoder) edit of " + images);
        text.put("Comment", parameters().toString());
        return text;
    }
}
