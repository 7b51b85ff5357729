package org.cyclediffusion.core.batch;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The columns of a batch manifest, named as diffusers names the arguments of
 * {@code CycleDiffusionPipeline.__call__} (plus {@code id} and {@code image}). The same names are
 * used by a JSON-lines or CSV manifest, by the Spark job's JSON or Parquet input, and by the
 * results each of them writes.
 */
public enum ManifestField {
    ID("id", Kind.TEXT, true),
    IMAGE("image", Kind.TEXT, true),
    PROMPT("prompt", Kind.TEXT, true),
    SOURCE_PROMPT("source_prompt", Kind.TEXT, true),
    STRENGTH("strength", Kind.NUMBER, false),
    NUM_INFERENCE_STEPS("num_inference_steps", Kind.INTEGER, false),
    GUIDANCE_SCALE("guidance_scale", Kind.NUMBER, false),
    SOURCE_GUIDANCE_SCALE("source_guidance_scale", Kind.NUMBER, false),
    ETA("eta", Kind.NUMBER, false),
    SEED("seed", Kind.INTEGER, false),
    NUM_IMAGES_PER_PROMPT("num_images_per_prompt", Kind.INTEGER, false),
    CLIP_SKIP("clip_skip", Kind.INTEGER, false),
    /**
     * The model of the target chain (unpaired translation between two models that share a latent
     * space, paper §4.2): a model folder as {@code --model} takes it; absent, {@code --model} runs
     * both chains.
     */
    TARGET_MODEL("target_model", Kind.TEXT, false);

    /** How a value is typed in JSON; CSV cells are text and are parsed as this kind. */
    public enum Kind {
        TEXT, NUMBER, INTEGER
    }

    private final String key;
    private final Kind kind;
    private final boolean required;

    ManifestField(String key, Kind kind, boolean required) {
        this.key = key;
        this.kind = kind;
        this.required = required;
    }

    /** The column name, e.g. {@code source_guidance_scale}. */
    public String key() {
        return key;
    }

    public Kind kind() {
        return kind;
    }

    public boolean required() {
        return required;
    }

    public static Optional<ManifestField> byKey(String key) {
        return Arrays.stream(values()).filter(f -> f.key.equals(key)).findFirst();
    }

    /** Every column name, in manifest order, for error messages. */
    public static List<String> keys() {
        return Arrays.stream(values()).map(ManifestField::key).toList();
    }
}
