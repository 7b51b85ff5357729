package org.cyclediffusion.core.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.cyclediffusion.core.image.RgbImage;

/**
 * What produced an edit, in diffusers' parameter names: the one description that every writer of
 * results (the CLI's PNGs and {@code --json}, the server, batch results) uses, so that the same
 * request gives the same metadata wherever it ran.
 *
 * <p>Output row {@code r} (diffusers' order) is copy {@code k = r mod n} of edit row
 * {@code i = r div n}, with {@code n = numImagesPerPrompt}; {@link #parameters(int)} and
 * {@link #pngText(int)} describe that one row (its image, prompt pair, seed and index), so each
 * written file carries its own description.
 *
 * @param software      tool name and version, e.g. {@code cyclediffusion 0.1.0}
 * @param model         the model as the user named it (folder, file or hub id); with a target model, model A (source chain and VAE)
 * @param targetModel   unpaired translation's model B (target chain and safety checker) as the user named it, or null for one model
 * @param backend       the loaded models' description (backend, device, dtype)
 * @param images        the input images as the user named them, one per request image
 * @param request       the request that ran
 * @param seed          the seed actually used (torch's 64-bit seed; written unsigned, as torch prints it)
 * @param safetyChecker whether the safety checker ran
 */
public record EditProvenance(String software, String model, String targetModel, String backend, List<String> images, EditRequest request,
        long seed, boolean safetyChecker) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public EditProvenance {
        images = List.copyOf(images);
    }

    /** One model running both chains. */
    public EditProvenance(String software, String model, String backend, List<String> images, EditRequest request, long seed,
            boolean safetyChecker) {
        this(software, model, null, backend, images, request, seed, safetyChecker);
    }

    /** This provenance with model B of a two-model edit (null: one model). */
    public EditProvenance withTargetModel(String target) {
        return new EditProvenance(software, model, target, backend, images, request, seed, safetyChecker);
    }

    /** The parameters as a JSON object (model, backend, images, prompts, diffusers' call arguments, seed). */
    public ObjectNode parameters() {
        ObjectNode p = JSON.createObjectNode();
        putModels(p);
        ArrayNode im = p.putArray("images");
        images.forEach(im::add);
        ArrayNode pr = p.putArray("prompts");
        request.prompts().forEach(pr::add);
        ArrayNode sp = p.putArray("source_prompts");
        request.sourcePrompts().forEach(sp::add);
        putCallArguments(p);
        return p;
    }

    /**
     * The parameters of output row {@code row}: its image, prompt and source prompt, its index in
     * the batch and the batch size, with the call arguments and seed shared by the batch.
     */
    public ObjectNode parameters(int row) {
        int size = batchSize();
        if (row < 0 || row >= size) {
            throw new IndexOutOfBoundsException("row " + row + ": the edit has " + size + " output rows");
        }
        ObjectNode p = JSON.createObjectNode();
        putModels(p);
        p.put("image", rowValue(images, row, ""));
        p.put("prompt", prompt(row));
        p.put("source_prompt", rowValue(request.sourcePrompts(), row, ""));
        p.put("index", row);
        p.put("batch_size", size);
        putCallArguments(p);
        return p;
    }

    /**
     * PNG {@code tEXt} entries for output row {@code row} (diffusers' order): {@code Software},
     * {@code Source}, {@code Comment} (this row's {@link #parameters(int)} as JSON) and
     * {@code parameters} in the AUTOMATIC1111 web UI's form, which image viewers and other
     * Stable Diffusion tools read.
     */
    public Map<String, String> pngText(int row) {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("Software", software);
        text.put("Source", "CycleDiffusion (DPM-Encoder) edit of " + rowValue(images, row, "(image tensor)"));
        text.put("Comment", parameters(row).toString());
        text.put("parameters", a1111Parameters(row));
        return text;
    }

    /**
     * The AUTOMATIC1111 {@code parameters} text: the prompt on the first line(s), then one line of
     * {@code Key: value} pairs separated by ", " (values holding a comma, colon or quote are JSON
     * strings, as the web UI quotes them). The negative prompt line is omitted: it is empty here.
     */
    public String a1111Parameters(int row) {
        Map<String, String> kv = new LinkedHashMap<>();
        kv.put("Steps", Integer.toString(request.numInferenceSteps()));
        kv.put("Sampler", "DDIM");
        kv.put("CFG scale", number(request.guidanceScale()));
        kv.put("Seed", Long.toUnsignedString(seed));
        int[] size = outputSize();
        if (size != null) {
            kv.put("Size", size[0] + "x" + size[1]);
        }
        kv.put("Model", model);
        if (targetModel != null) {
            kv.put("Target model", targetModel);
        }
        kv.put("Denoising strength", number(request.strength()));
        kv.put("Eta", number(request.eta()));
        if (request.clipSkip() != null && request.clipSkip() > 0) {
            // the web UI counts the last layer as 1: diffusers' clip_skip k is its k + 1
            kv.put("Clip skip", Integer.toString(request.clipSkip() + 1));
        }
        int batch = batchSize();
        if (batch > 1) {
            kv.put("Batch size", Integer.toString(batch));
            kv.put("Batch pos", Integer.toString(row));
        }
        kv.put("Source prompt", rowValue(request.sourcePrompts(), row, ""));
        kv.put("Source CFG scale", number(request.sourceGuidanceScale()));
        kv.put("Version", software);
        StringBuilder sb = new StringBuilder(prompt(row)).append('\n');
        String sep = "";
        for (Map.Entry<String, String> e : kv.entrySet()) {
            sb.append(sep).append(e.getKey()).append(": ").append(quote(e.getValue()));
            sep = ", ";
        }
        return sb.toString();
    }

    private void putModels(ObjectNode p) {
        p.put("model", model);
        if (targetModel != null) {
            p.put("target_model", targetModel);
        }
        p.put("backend", backend);
    }

    private void putCallArguments(ObjectNode p) {
        p.put("strength", request.strength());
        p.put("num_inference_steps", request.numInferenceSteps());
        p.put("guidance_scale", request.guidanceScale());
        p.put("source_guidance_scale", request.sourceGuidanceScale());
        if (request.sourceGuided() != null) { // set: the rows (and rounding) were chosen, not the default's
            p.put("source_guided", request.sourceGuided());
        }
        p.put("eta", request.eta());
        p.put("num_images_per_prompt", request.numImagesPerPrompt());
        // torch's seeds are unsigned 64-bit: 2^63 and above are stored as the negative long of the same bits
        if (seed >= 0) {
            p.put("seed", seed);
        } else {
            p.put("seed", new java.math.BigInteger(Long.toUnsignedString(seed)));
        }
        if (request.clipSkip() != null) {
            p.put("clip_skip", request.clipSkip());
        }
        p.put("safety_checker", safetyChecker);
    }

    /** Output rows of the edit: edit rows × images per prompt. */
    private int batchSize() {
        int promptRows = request.promptEmbeds() != null ? request.promptEmbeds().dim(0) : request.prompts().size();
        int imageRows = request.imageTensor() != null ? request.imageTensor().dim(0) : request.images().size();
        int rows = Math.max(1, Math.max(promptRows, Math.max(request.sourcePrompts().size(), imageRows)));
        return rows * Math.max(1, request.numImagesPerPrompt());
    }

    private String prompt(int row) {
        return request.prompts().isEmpty() ? "(prompt embeddings)" : rowValue(request.prompts(), row, "");
    }

    /** The entry of a per-row list for output row {@code row}: one entry serves every row. */
    private <T> T rowValue(List<T> values, int row, T none) {
        if (values.isEmpty()) {
            return none;
        }
        int editRow = row / Math.max(1, request.numImagesPerPrompt());
        return values.size() == 1 ? values.get(0) : values.get(Math.min(editRow, values.size() - 1));
    }

    /** Width × height of the outputs: the first image's size floored to multiples of 8, as diffusers resizes. */
    private int[] outputSize() {
        if (!request.images().isEmpty()) {
            RgbImage first = request.images().get(0);
            return new int[] {first.width() - first.width() % 8, first.height() - first.height() % 8};
        }
        return null;
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v).toLowerCase(Locale.ROOT);
    }

    private static String quote(String v) {
        if (v.indexOf(',') < 0 && v.indexOf(':') < 0 && v.indexOf('"') < 0 && v.indexOf('\n') < 0) {
            return v;
        }
        try {
            return JSON.writeValueAsString(v);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
