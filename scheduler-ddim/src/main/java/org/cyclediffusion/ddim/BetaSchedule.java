package org.cyclediffusion.ddim;

import java.util.Locale;
import java.util.Optional;

/** diffusers' {@code beta_schedule}: how the 1000 training betas are laid out when none are given. */
public enum BetaSchedule {
    /** {@code torch.linspace(beta_start, beta_end, T)}. */
    LINEAR,
    /** {@code torch.linspace(√beta_start, √beta_end, T)²}, the latent-diffusion schedule of Stable Diffusion. */
    SCALED_LINEAR,
    /** GLIDE's cosine schedule, {@code betas_for_alpha_bar} with max beta 0.999. */
    SQUAREDCOS_CAP_V2;

    public static final String ACCEPTED = "linear, scaled_linear or squaredcos_cap_v2";

    public static Optional<BetaSchedule> parse(String text) {
        for (BetaSchedule s : values()) {
            if (s.configName().equals(text)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
