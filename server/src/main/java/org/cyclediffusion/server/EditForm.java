package org.cyclediffusion.server;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.ImageTooLargeException;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.EditRequest;

/**
 * The fields of {@code POST /api/edit} and {@code POST /api/jobs}: diffusers' parameter names and
 * defaults ({@code prompt}, {@code source_prompt} and {@code image} repeat like the CLI's flags),
 * turned into an {@link EditSpec}. Types and server limits are checked here, before the edit is
 * queued; the ranges of the values are the pipeline's to check (one place for those rules).
 */
final class EditForm {
    static final Set<String> FIELDS = Set.of("image", "prompt", "source_prompt", "strength", "num_inference_steps", "guidance_scale",
            "source_guidance_scale", "eta", "seed", "num_images_per_prompt", "clip_skip");
    /** More images than this in one answer is a batch job, not an interactive edit. */
    static final int MAX_OUTPUT_IMAGES = 16;
    static final int MAX_STEPS = 1000;

    private final List<String> prompts = new ArrayList<>();
    private final List<String> sourcePrompts = new ArrayList<>();
    private final List<RgbImage> images = new ArrayList<>();
    private final List<String> imageNames = new ArrayList<>();
    private final Set<String> seen = new java.util.HashSet<>();
    private final EditRequest.Builder request = EditRequest.builder();
    private final ServerOptions options;
    private Long seed;
    private int steps = EditRequest.DEFAULT_STEPS;
    private int perPrompt = 1;

    EditForm(ServerOptions options) {
        this.options = options;
    }

    /** A text field. */
    void field(String name, String value) {
        String field = name == null ? "" : name;
        switch (field) {
            case "prompt" -> prompts.add(prompt(field, value));
            case "source_prompt" -> sourcePrompts.add(prompt(field, value));
            case "image" -> throw new ApiException(400, "image", "field image must be a file part (multipart/form-data with a filename)");
            case "strength" -> request.strength(number(once(field), value));
            case "num_inference_steps" -> {
                steps = integer(once(field), value);
                request.numInferenceSteps(steps);
            }
            case "guidance_scale" -> request.guidanceScale(number(once(field), value));
            case "source_guidance_scale" -> request.sourceGuidanceScale(number(once(field), value));
            case "eta" -> request.eta(number(once(field), value));
            case "seed" -> seed = seed(once(field), value);
            case "num_images_per_prompt" -> {
                perPrompt = integer(once(field), value);
                request.numImagesPerPrompt(perPrompt);
            }
            case "clip_skip" -> request.clipSkip(value.isBlank() ? null : integer(once(field), value));
            default -> throw unknown(field);
        }
    }

    /** A file part: only {@code image} takes one. Decoded in memory; the name is only ever metadata. */
    void file(String name, String fileName, byte[] data) {
        if (!"image".equals(name)) {
            if (FIELDS.contains(name)) {
                field(name, new String(data, StandardCharsets.UTF_8));
                return;
            }
            throw unknown(name);
        }
        String shown = displayName(fileName, images.size());
        try {
            images.add(ImageFiles.read(data, "image \"" + shown + "\"", options.maxImagePixels()));
        } catch (ImageTooLargeException e) {
            throw new ApiException(413, "image", e.getMessage());
        } catch (InvalidInputException e) {
            // Not an image format we read: 415; an image we cannot decode (truncated, corrupt): 422.
            boolean unsupported = e.getMessage().contains("supported formats are") || e.getMessage().contains("is not a PNG, JPEG or WebP");
            throw new ApiException(unsupported ? 415 : 422, "image", e.getMessage());
        }
        imageNames.add(shown);
    }

    EditSpec build() {
        if (images.isEmpty()) {
            throw new ApiException(400, "image", "missing field image: expected at least one PNG or JPEG file part");
        }
        if (prompts.isEmpty()) {
            throw new ApiException(400, "prompt", "missing field prompt: what the edited image should show");
        }
        if (sourcePrompts.isEmpty()) {
            throw new ApiException(400, "source_prompt", "missing field source_prompt: what the input image shows");
        }
        if (steps > MAX_STEPS) {
            throw new ApiException(422, "num_inference_steps", "num_inference_steps = " + steps + ": this server takes at most " + MAX_STEPS);
        }
        int rows = Math.max(images.size(), Math.max(prompts.size(), sourcePrompts.size()));
        if (perPrompt > 0 && (long) rows * perPrompt > MAX_OUTPUT_IMAGES) {
            throw new ApiException(422, "num_images_per_prompt", rows + " rows x num_images_per_prompt " + perPrompt + " = "
                    + (long) rows * perPrompt + " images: this server answers at most " + MAX_OUTPUT_IMAGES + " per request");
        }
        long usedSeed = seed != null ? seed : new SecureRandom().nextLong() & 0xffffffffL;
        request.prompts(prompts).sourcePrompts(sourcePrompts).images(images).seed(usedSeed);
        return new EditSpec(request, List.copyOf(imageNames), usedSeed);
    }

    private String once(String field) {
        if (!seen.add(field)) {
            throw new ApiException(400, field, "field " + field + " is given more than once; only prompt, source_prompt and image repeat");
        }
        return field;
    }

    private String prompt(String field, String value) {
        if (value.length() > options.maxPromptChars()) {
            throw new ApiException(422, field, field + " is " + value.length() + " characters long; this server takes at most "
                    + options.maxPromptChars() + " (the text encoder reads 77 tokens)");
        }
        return value;
    }

    private static ApiException unknown(String field) {
        return new ApiException(400, field, "unknown field \"" + field + "\"; expected " + new java.util.TreeSet<>(FIELDS));
    }

    private static double number(String field, String value) {
        try {
            double d = Double.parseDouble(value.trim());
            if (!Double.isFinite(d)) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException e) {
            throw new ApiException(422, field, field + " = \"" + clip(value) + "\": expected a number");
        }
    }

    private static int integer(String field, String value) {
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new ApiException(422, field, field + " = \"" + clip(value) + "\": expected an integer");
        }
    }

    private static long seed(String field, String value) {
        if (value.isBlank()) {
            return new SecureRandom().nextLong() & 0xffffffffL; // an empty box in a form means "random"
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new ApiException(422, field, field + " = \"" + clip(value) + "\": expected an integer");
        }
    }

    /** The upload's file name, kept only as metadata (PNG provenance): control characters removed. */
    static String displayName(String fileName, int index) {
        if (fileName == null || fileName.isBlank()) {
            return "upload-" + index;
        }
        StringBuilder b = new StringBuilder();
        fileName.codePoints().filter(c -> !Character.isISOControl(c)).limit(255).forEach(b::appendCodePoint);
        return b.length() == 0 ? "upload-" + index : b.toString();
    }

    private static String clip(String value) {
        String v = value.length() > 40 ? value.substring(0, 40) + "..." : value;
        return v.replaceAll("\\p{Cntrl}", "?");
    }
}
