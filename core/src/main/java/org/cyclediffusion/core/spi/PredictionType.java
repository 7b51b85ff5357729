package org.cyclediffusion.core.spi;

import java.util.Locale;

/** What the UNet predicts, diffusers' {@code prediction_type}. */
public enum PredictionType {
    EPSILON, V_PREDICTION, SAMPLE;

    public static PredictionType parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("prediction_type '" + text + "': expected epsilon, v_prediction or sample");
        }
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
