package org.cyclediffusion.ddpm;

import java.util.Optional;

/**
 * {@code variance_type} of diffusers' {@code DDPMScheduler}: the variance σ_t² of the reverse step
 * (Ho et al. 2020, arXiv 2006.11239, §3.2). The learned variants need a UNet that outputs twice the
 * latent channels, which Stable Diffusion's does not; {@code fixed_large_log} makes diffusers take
 * the square root of a log (NaN): neither is accepted.
 */
public enum VarianceType {
    /** σ_t² = β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t, the forward posterior's variance (clamped at 1e-20). */
    FIXED_SMALL("fixed_small"),
    /** The same σ_t, computed as exp(½·log β̃_t) (diffusers' rl-diffuser variant). */
    FIXED_SMALL_LOG("fixed_small_log"),
    /** σ_t² = β_t, the upper bound of Ho et al. */
    FIXED_LARGE("fixed_large");

    public static final String ACCEPTED = "fixed_small, fixed_small_log or fixed_large";

    private final String configName;

    VarianceType(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    public static Optional<VarianceType> parse(String text) {
        for (VarianceType v : values()) {
            if (v.configName.equals(text)) {
                return Optional.of(v);
            }
        }
        return Optional.empty();
    }
}
