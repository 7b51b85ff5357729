package org.cyclediffusion.core.spi;

import java.util.Locale;

/** Precision a backend computes in. Host tensors are always float32; backends convert at the boundary. */
public enum DType {
    FLOAT32("fp32"), FLOAT16("fp16"), BFLOAT16("bf16");

    private final String shortName;

    DType(String shortName) {
        this.shortName = shortName;
    }

    public String shortName() {
        return shortName;
    }

    public static DType parse(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        for (DType d : values()) {
            if (d.shortName.equals(s) || d.name().toLowerCase(Locale.ROOT).equals(s)) {
                return d;
            }
        }
        throw new IllegalArgumentException("dtype '" + text + "': expected one of fp32, fp16, bf16");
    }
}
