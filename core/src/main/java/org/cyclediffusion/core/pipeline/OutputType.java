package org.cyclediffusion.core.pipeline;

import java.util.Locale;

/** diffusers' {@code output_type}: 8-bit images, float arrays in [0, 1], or the raw final latents. */
public enum OutputType {
    PIL, NP, LATENT;

    public static OutputType parse(String text) {
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "pil", "png" -> PIL;
            case "np", "npy", "numpy" -> NP;
            case "latent", "latents" -> LATENT;
            default -> throw new IllegalArgumentException("output type '" + text + "': expected pil, np or latent");
        };
    }
}
