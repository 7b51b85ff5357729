package org.cyclediffusion.core.io;

import org.cyclediffusion.core.config.ConfigException;

/** Element types of the safetensors format, with their sizes in bytes. */
public enum SafetensorsDType {
    F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int bytes;

    SafetensorsDType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    static SafetensorsDType parse(String text, String where) {
        for (SafetensorsDType d : values()) {
            if (d.name().equals(text)) {
                return d;
            }
        }
        throw new ConfigException(where + ": unknown dtype '" + text + "' (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
    }
}
