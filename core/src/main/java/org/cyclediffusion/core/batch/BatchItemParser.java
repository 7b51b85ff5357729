package org.cyclediffusion.core.batch;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.cyclediffusion.core.pipeline.EditRequest;

/**
 * Checks one manifest row and turns it into a {@link BatchItem}, collecting every problem of the
 * row rather than stopping at the first, so that a user fixes a manifest in one pass. The ranges
 * are the pipeline's own (a row that passes here is not rejected by the pipeline for its
 * parameters); what needs the model (image size against the UNet, clip skip against the text
 * encoder's depth) is found when the item runs and recorded as that item's failure.
 */
public final class BatchItemParser {
    private BatchItemParser() {
    }

    /** A row and its problems: {@code item} is present exactly when {@code problems} is empty. */
    public record Parsed(Optional<BatchItem> item, List<String> problems) {
        public Parsed {
            problems = List.copyOf(problems);
        }
    }

    /**
     * @param line    the row's line (for the item; messages are prefixed by the caller)
     * @param values  column name to value: String, Number, Boolean or null (JSON), or String (CSV)
     * @param textual true when every value is text to be parsed (CSV cells); an empty cell of an
     *                optional column then means "the default"
     */
    public static Parsed parse(int line, Map<String, ?> values, boolean textual) {
        List<String> problems = new ArrayList<>();
        Map<ManifestField, Object> v = new EnumMap<>(ManifestField.class);
        for (Map.Entry<String, ?> e : values.entrySet()) {
            Optional<ManifestField> f = ManifestField.byKey(e.getKey());
            if (f.isEmpty()) {
                problems.add("unknown field \"" + e.getKey() + "\" (known fields: " + String.join(", ", ManifestField.keys()) + ")");
                continue;
            }
            Object raw = e.getValue();
            if (raw == null || textual && !f.get().required() && raw instanceof String s && s.isEmpty()) {
                continue; // absent: the default
            }
            Object typed = typed(f.get(), raw, textual, problems);
            if (typed != null) {
                v.put(f.get(), typed);
            }
        }
        for (ManifestField f : ManifestField.values()) {
            if (f.required() && values.get(f.key()) == null) {
                problems.add("missing required field \"" + f.key() + "\"");
            }
        }
        String targetModel = (String) v.get(ManifestField.TARGET_MODEL);
        if (targetModel != null && targetModel.isBlank()) {
            problems.add("target_model: expected a model folder, found an empty value (leave the field out to use --model)");
        }

        String id = (String) v.get(ManifestField.ID);
        if (id != null && !BatchItem.ID_PATTERN.matcher(id).matches()) {
            problems.add("id \"" + id + "\": expected a safe file-name stem (letters, digits, '.', '_', '-', starting with a letter"
                    + " or digit, at most 128 characters)");
        }
        String image = (String) v.get(ManifestField.IMAGE);
        if (image != null && image.isBlank()) {
            problems.add("image: expected a path to a PNG or JPEG file, found an empty value");
        }
        double strength = number(v, ManifestField.STRENGTH, EditRequest.DEFAULT_STRENGTH);
        long steps = integer(v, ManifestField.NUM_INFERENCE_STEPS, EditRequest.DEFAULT_STEPS);
        double guidance = number(v, ManifestField.GUIDANCE_SCALE, EditRequest.DEFAULT_GUIDANCE_SCALE);
        double sourceGuidance = number(v, ManifestField.SOURCE_GUIDANCE_SCALE, EditRequest.DEFAULT_SOURCE_GUIDANCE_SCALE);
        double eta = number(v, ManifestField.ETA, EditRequest.DEFAULT_ETA);
        Long seed = v.containsKey(ManifestField.SEED) ? (Long) v.get(ManifestField.SEED) : null;
        long perPrompt = integer(v, ManifestField.NUM_IMAGES_PER_PROMPT, 1);
        Long clipSkip = v.containsKey(ManifestField.CLIP_SKIP) ? (Long) v.get(ManifestField.CLIP_SKIP) : null;

        if (!(strength >= 0 && strength <= 1)) {
            problems.add("strength = " + strength + ": expected a value in [0, 1]");
        }
        if (steps < 1 || steps > Integer.MAX_VALUE) {
            problems.add("num_inference_steps = " + steps + ": expected at least 1");
        } else if (strength >= 0 && strength <= 1 && (int) (steps * strength) < 1) {
            problems.add("strength = " + strength + " with num_inference_steps = " + steps + " runs no denoising step"
                    + " (int(steps × strength) = 0): expected strength ≥ " + 1.0 / steps + " or more steps");
        }
        if (!(eta > 0)) {
            problems.add("eta = " + eta + ": CycleDiffusion needs a stochastic sampler, expected eta > 0 (diffusers' default is 0.1)");
        }
        if (perPrompt < 1 || perPrompt > 1024) {
            problems.add("num_images_per_prompt = " + perPrompt + ": expected 1 to 1024");
        }
        if (clipSkip != null && (clipSkip < 0 || clipSkip > 1024)) {
            problems.add("clip_skip = " + clipSkip + ": expected 0 or more (or leave it out)");
        }
        if (!problems.isEmpty()) {
            return new Parsed(Optional.empty(), problems);
        }
        return new Parsed(Optional.of(new BatchItem(line, id, image, (String) v.get(ManifestField.PROMPT),
                (String) v.get(ManifestField.SOURCE_PROMPT), strength, (int) steps, guidance, sourceGuidance, eta, seed, (int) perPrompt,
                clipSkip == null ? null : clipSkip.intValue(), targetModel)), problems);
    }

    private static double number(Map<ManifestField, Object> v, ManifestField f, double fallback) {
        Object o = v.get(f);
        return o == null ? fallback : (Double) o;
    }

    private static long integer(Map<ManifestField, Object> v, ManifestField f, long fallback) {
        Object o = v.get(f);
        return o == null ? fallback : (Long) o;
    }

    /** The value as String, Double or Long for the field's kind; null after adding a problem. */
    private static Object typed(ManifestField f, Object raw, boolean textual, List<String> problems) {
        switch (f.kind()) {
            case TEXT:
                if (raw instanceof String s) {
                    return s;
                }
                problems.add(f.key() + ": expected a string, found " + describe(raw));
                return null;
            case NUMBER:
                Double d = textual && raw instanceof String s ? parseDouble(s) : raw instanceof Number n ? n.doubleValue() : null;
                if (d == null || !Double.isFinite(d)) {
                    problems.add(f.key() + ": expected a finite number, found " + describe(raw));
                    return null;
                }
                return d;
            case INTEGER:
                Long l = textual && raw instanceof String s ? parseLong(s) : raw instanceof Number n ? integral(n) : null;
                if (l == null) {
                    problems.add(f.key() + ": expected an integer, found " + describe(raw));
                    return null;
                }
                return l;
            default:
                throw new IllegalStateException(f.kind().toString());
        }
    }

    private static Double parseDouble(String s) {
        try {
            return Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static Long parseLong(String s) {
        try {
            return integral(new BigDecimal(s.trim()));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** An integral value that fits a long (20 and 20.0 both are; 20.5 is not). */
    private static Long integral(Number n) {
        try {
            BigDecimal b = n instanceof BigDecimal bd ? bd : n instanceof BigInteger bi ? new BigDecimal(bi)
                    : n instanceof Double || n instanceof Float ? (Double.isFinite(n.doubleValue()) ? BigDecimal.valueOf(n.doubleValue()) : null)
                    : BigDecimal.valueOf(n.longValue());
            return b == null ? null : b.longValueExact();
        } catch (ArithmeticException e) {
            return null;
        }
    }

    private static String describe(Object raw) {
        if (raw instanceof String s) {
            return "\"" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "\"";
        }
        if (raw instanceof Boolean) {
            return "a boolean (" + raw + ")";
        }
        if (raw instanceof Number) {
            return raw.toString();
        }
        return raw instanceof List<?> ? "a list" : raw instanceof Map<?, ?> ? "an object" : raw.getClass().getSimpleName().toLowerCase(Locale.ROOT);
    }
}
