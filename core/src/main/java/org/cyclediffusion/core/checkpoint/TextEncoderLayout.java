package org.cyclediffusion.core.checkpoint;

/**
 * How an original-layout checkpoint stores its text encoder, which also says which Stable
 * Diffusion generation it is: SD 1.x keeps transformers' {@code CLIPTextModel} under
 * {@code cond_stage_model.transformer.}, SD 2.x keeps OpenCLIP's text tower under
 * {@code cond_stage_model.model.}.
 */
public enum TextEncoderLayout {
    /** SD 1.x: OpenAI CLIP ViT-L/14, transformers' names. */
    CLIP("cond_stage_model.transformer.", "SD 1.x"),
    /** SD 2.x: OpenCLIP ViT-H/14, fused q/k/v, one resblock more than the pipeline uses. */
    OPEN_CLIP("cond_stage_model.model.", "SD 2.x");

    private final String prefix;
    private final String generation;

    TextEncoderLayout(String prefix, String generation) {
        this.prefix = prefix;
        this.generation = generation;
    }

    public String prefix() {
        return prefix;
    }

    public String generation() {
        return generation;
    }
}
