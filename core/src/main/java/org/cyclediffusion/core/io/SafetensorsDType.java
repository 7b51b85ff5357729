package org.cyclediffusion.core.io;

import java.util.Arrays;
import java.util.stream.Collectors;
import org.cyclediffusion.core.config.ConfigException;

/**
 * Element types of the safetensors format, with their sizes in bytes.
 *
 * <p>Every whole-byte dtype of the reference ({@code huggingface/safetensors}, {@code Dtype} in
 * {@code safetensors/src/tensor.rs}) is listed so that a file holding, say, one {@code U32} or
 * {@code F8_E4M3} tensor still opens and its other tensors can be read; only the conversions in
 * {@link SafetensorsFile#floatTensor} and {@link SafetensorsFile#longs} are limited. The reference's
 * sub-byte types ({@code F4}, {@code F6_*}) and {@code C64} are not accepted: no diffusers
 * checkpoint we load uses them, and rejecting them at open names the tensor.
 */
public enum SafetensorsDType {
    F64(8), F32(4), F16(2), BF16(2), F8_E5M2(1), F8_E4M3(1),
    I64(8), I32(4), I16(2), I8(1), U64(8), U32(4), U16(2), U8(1), BOOL(1);

    private static final String KNOWN = Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));

    private final int bytes;

    SafetensorsDType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    /** F64, F32, F16, BF16: the dtypes {@link SafetensorsFile#floatTensor} converts. */
    public boolean isFloatingPoint() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /** Integer and bool dtypes: the ones {@link SafetensorsFile#longs} converts. */
    public boolean isInteger() {
        return !isFloatingPoint() && this != F8_E5M2 && this != F8_E4M3;
    }

    static SafetensorsDType parse(String text, String where) {
        for (SafetensorsDType d : values()) {
            if (d.name().equals(text)) {
                return d;
            }
        }
        throw new ConfigException(where + ": unknown dtype '" + text + "' (expected one of " + KNOWN + ")");
    }
}
