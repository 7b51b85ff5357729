package org.cyclediffusion.core.io;

/**
 * IEEE half and bfloat16 conversions (Java 17 has neither), bit-for-bit as torch's CPU casts:
 * widening is exact; narrowing rounds to nearest, ties to even, overflows to infinity and keeps
 * subnormals ({@code c10::detail::fp16_ieee_from_fp32_value} and
 * {@code c10::detail::round_to_nearest_even}).
 */
public final class HalfFloats {
    private HalfFloats() {
    }

    public static float bfloat16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /**
     * float32 to bfloat16 bits, round to nearest even (carrying into the exponent, so values past
     * the largest bfloat16 become infinity). Every NaN becomes torch's canonical 0x7FC0, as in
     * {@code c10::detail::round_to_nearest_even}.
     */
    public static short floatToBfloat16(float f) {
        int x = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) 0x7fc0;
        }
        int rounding = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + rounding) >>> 16);
    }

    /** IEEE half bits to float32, exactly (subnormals, infinities and NaN payloads kept). */
    public static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // Subnormal half: value = mant * 2^-24.
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /**
     * float32 to IEEE half with round-to-nearest-even, as torch's {@code .half()}: at or above
     * 65520 (half-way past 65504) gives infinity, below 2^-14 a subnormal, NaN the quiet NaN
     * 0x7E00 with the sign kept.
     */
    public static short floatToHalf(float f) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 16) & 0x8000;
        int abs = x & 0x7fffffff;
        if (abs >= 0x7f800000) {
            return (short) (sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0));
        }
        if (abs >= 0x477ff000) { // rounds to >= 65520: overflow to infinity
            return (short) (sign | 0x7c00);
        }
        if (abs < 0x38800000) { // below the smallest normal half: subnormal or zero
            float v = Float.intBitsToFloat(abs) * 0x1p24f; // in units of 2^-24
            int m = Math.round(v);
            // Math.round rounds half up; fix ties to even.
            if (Math.abs(v - (int) v - 0.5f) == 0f && (m & 1) == 1) {
                m -= 1;
            }
            return (short) (sign | m);
        }
        // Rebase the exponent (127 → 15) and drop 13 mantissa bits, rounding to nearest even by
        // adding just under half a unit plus the kept last bit: a carry past the mantissa moves the
        // exponent, as it should. Branch-free: on real tensors the dropped bits are random, and a
        // branch on them was mispredicted half the time (OrtCopyBenchmark.toOrt, FLOAT16).
        int rebased = abs - (112 << 23);
        return (short) (sign | (rebased + 0xfff + ((rebased >>> 13) & 1)) >>> 13);
    }
}
