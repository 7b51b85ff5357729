package org.cyclediffusion.core.spi;

/** The parts of an edit in the order they run; a progress listener hears when each begins. */
public enum EditPhase {
    ENCODING_PROMPT("encoding prompts"),
    ENCODING_IMAGE("encoding image"),
    DENOISING("denoising"),
    DECODING("decoding"),
    SAFETY_CHECK("safety checker");

    private final String description;

    EditPhase(String description) {
        this.description = description;
    }

    /** Lower-case words for progress lines, e.g. {@code encoding image}. */
    public String description() {
        return description;
    }
}
