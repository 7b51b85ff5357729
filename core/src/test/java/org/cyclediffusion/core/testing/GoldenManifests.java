package org.cyclediffusion.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.EditRequest;

/**
 * Batch-manifest rows for the visible golden cases, with the parameters {@link GoldenCases}
 * reads, for the tests of every runner of batches (CLI {@code batch}, Spark).
 */
public final class GoldenManifests {
    private GoldenManifests() {
    }

    /**
     * The visible cases a single manifest row can express on tiny-sd: one image, one prompt, one
     * source prompt (v08's two-row batch draws its noise for both rows at once, and v12 is another
     * model). v10's 70x60 image needs 8x7 latents, which the ONNX export of tiny-sd does not take.
     */
    public static List<String> singleRowCases(String backend) {
        List<String> ids = new ArrayList<>(List.of("v01_basic", "v02_no_cfg", "v03_cfg7p5_car", "v04_strength1_sgs2",
                "v05_strength0p3_50steps_eta1", "v06_reconstruction_cfg", "v07_nipp2_cfg_fixed", "v11_clip_skip1", "v13_doc2_100steps"));
        if (!backend.equals("onnx")) {
            ids.add(8, "v10_resize_lanczos_70x60");
        }
        return ids;
    }

    /**
     * The manifest row of golden case {@code caseId} with id {@code rowId}; {@code image} maps the
     * case's image file name to what the manifest should say (e.g. a path relative to it).
     */
    public static ObjectNode row(String caseId, String rowId, UnaryOperator<String> image) {
        JsonNode c = Golden.caseJson(caseId);
        EditRequest r = GoldenCases.request(c).build();
        if (r.prompts().size() != 1 || r.sourcePrompts().size() != 1 || c.get("images").size() != 1) {
            throw new IllegalArgumentException(caseId + " is not a single-row case");
        }
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("id", rowId);
        o.put("image", image.apply(c.get("images").get(0).asText()));
        o.put("prompt", r.prompts().get(0));
        o.put("source_prompt", r.sourcePrompts().get(0));
        o.put("strength", r.strength());
        o.put("num_inference_steps", r.numInferenceSteps());
        o.put("guidance_scale", r.guidanceScale());
        o.put("source_guidance_scale", r.sourceGuidanceScale());
        o.put("eta", r.eta());
        o.put("seed", r.seed());
        o.put("num_images_per_prompt", r.numImagesPerPrompt());
        if (r.clipSkip() != null) {
            o.put("clip_skip", r.clipSkip());
        }
        return o;
    }

    /** The golden PNG of output {@code k} of a case. */
    public static RgbImage goldenPng(String caseId, int k) {
        return ImageFiles.read(Fixtures.golden("cycle_" + caseId + "_" + k + ".png"));
    }

    /** Number of outputs of a case. */
    public static int outputs(String caseId) {
        return Golden.caseJson(caseId).get("num_images_per_prompt").asInt();
    }

    /** The nsfw flag diffusers reported for output {@code k} of a case. */
    public static boolean nsfw(String caseId, int k) {
        try (Golden g = Golden.open("cycle_" + caseId)) {
            return g.json().get("nsfw_content_detected").get(k).asBoolean();
        }
    }

    /** max |a − b| over all 8-bit samples. */
    public static int maxAbsDiff(RgbImage a, RgbImage b) {
        if (a.width() != b.width() || a.height() != b.height()) {
            throw new AssertionError("sizes differ: " + a.width() + "x" + a.height() + " vs " + b.width() + "x" + b.height());
        }
        int worst = 0;
        for (int k = 0; k < a.rgb().length; k++) {
            worst = Math.max(worst, Math.abs((a.rgb()[k] & 0xff) - (b.rgb()[k] & 0xff)));
        }
        return worst;
    }
}
