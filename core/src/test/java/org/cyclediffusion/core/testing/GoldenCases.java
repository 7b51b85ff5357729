package org.cyclediffusion.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.OutputType;

/**
 * The end-to-end cases of {@code golden/case_<id>.json} as edit requests: every parameter of
 * diffusers' {@code __call__} the case names, with {@code output_type="np"} as the goldens were made.
 */
public final class GoldenCases {
    private GoldenCases() {
    }

    /** The request {@code golden/case_<id>.json} describes, as a builder so a test can add an observer. */
    public static EditRequest.Builder request(String id) {
        return request(Golden.caseJson(id));
    }

    /** The request a case JSON describes, as a builder so a test can add an observer. */
    public static EditRequest.Builder request(JsonNode c) {
        List<RgbImage> images = new ArrayList<>();
        c.get("images").forEach(n -> images.add(ImageFiles.read(Fixtures.image(n.asText()))));
        EditRequest.Builder b = EditRequest.builder()
                .prompts(strings(c.get("prompt")))
                .sourcePrompts(strings(c.get("source_prompt")))
                .images(images)
                .strength(c.get("strength").asDouble())
                .numInferenceSteps(c.get("num_inference_steps").asInt())
                .guidanceScale(c.get("guidance_scale").asDouble())
                .sourceGuidanceScale(c.get("source_guidance_scale").asDouble())
                .numImagesPerPrompt(c.get("num_images_per_prompt").asInt())
                .eta(c.get("eta").asDouble())
                .seed(c.get("seed").asLong())
                .outputType(OutputType.NP);
        if (c.hasNonNull("clip_skip")) {
            b.clipSkip(c.get("clip_skip").asInt());
        }
        return b;
    }

    /** A prompt field: one string, or a list of them (one per image row). */
    public static List<String> strings(JsonNode n) {
        List<String> out = new ArrayList<>();
        if (n.isArray()) {
            n.forEach(e -> out.add(e.asText()));
        } else {
            out.add(n.asText());
        }
        return out;
    }
}
