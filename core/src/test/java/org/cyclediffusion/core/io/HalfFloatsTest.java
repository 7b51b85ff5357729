package org.cyclediffusion.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Half and bfloat16 conversions against an oracle that works on values, not bits: the nearest
 * representable number found by search over the value table, ties to the even pattern, as IEEE
 * 754 round-to-nearest-even (and torch's CPU casts) define it.
 */
class HalfFloatsTest {
    /** Value of every non-negative finite half pattern 0x0000..0x7bff, plus 65536 standing for infinity at 0x7c00. */
    private static final double[] HALF = new double[0x7c01];

    static {
        for (int b = 0; b < 0x7c00; b++) {
            int exp = b >>> 10;
            int mant = b & 0x3ff;
            HALF[b] = exp == 0 ? mant * Math.pow(2, -24) : (1 + mant / 1024.0) * Math.pow(2, exp - 15);
        }
        HALF[0x7c00] = 65536; // the first value past 65504 that rounding can reach: overflow to inf
    }

    private static int halfOracle(float f) {
        if (Float.isNaN(f)) {
            return (Float.floatToRawIntBits(f) >>> 16 & 0x8000) | 0x7e00;
        }
        int sign = f < 0 || (f == 0 && 1 / f < 0) ? 0x8000 : 0;
        double a = Math.abs((double) f);
        if (a >= 65536) {
            return sign | 0x7c00;
        }
        int lo = 0;
        int hi = 0x7c00;
        while (hi - lo > 1) { // HALF[lo] <= a < HALF[hi]
            int mid = (lo + hi) >>> 1;
            if (HALF[mid] <= a) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        double down = a - HALF[lo];
        double up = HALF[hi] - a;
        int pick = down < up ? lo : up < down ? hi : (lo % 2 == 0 ? lo : hi);
        return sign | pick;
    }

    private static int bf16Oracle(float f) {
        if (Float.isNaN(f)) {
            return 0x7fc0;
        }
        int bits = Float.floatToRawIntBits(f);
        int t = bits >>> 16;
        if ((bits & 0x7f800000) == 0x7f800000) {
            return t; // infinity
        }
        double a = Math.abs((double) f);
        double down = Math.abs((double) Float.intBitsToFloat(t << 16));
        int next = (t & 0x7fff) + 1;
        double upValue = next == 0x7f80 ? 0x1p128 : Math.abs((double) Float.intBitsToFloat(next << 16));
        double dDown = a - down;
        double dUp = upValue - a;
        boolean roundUp = dUp < dDown || (dUp == dDown && (t & 1) == 1);
        return roundUp ? (t & 0x8000) | next : t;
    }

    @Test
    void everyHalfPatternWidensToItsValueAndNarrowsBack() {
        for (int i = 0; i < 0x10000; i++) {
            final int h = i;
            float f = HalfFloats.halfToFloat((short) h);
            int exp = (h >>> 10) & 0x1f;
            int mant = h & 0x3ff;
            boolean negative = (h & 0x8000) != 0;
            if (exp == 0x1f && mant != 0) {
                assertTrue(Float.isNaN(f), () -> String.format("0x%04x", h));
                assertEquals((h & 0x8000) | 0x7e00, HalfFloats.floatToHalf(f) & 0xffff, "NaN narrows to the quiet NaN with its sign");
                continue;
            }
            double expected = exp == 0x1f ? Double.POSITIVE_INFINITY : HALF[h & 0x7fff];
            assertEquals(negative ? -expected : expected, (double) f, () -> String.format("0x%04x", h));
            assertEquals(negative, Float.floatToRawIntBits(f) < 0, () -> String.format("sign of 0x%04x", h));
            assertEquals(h, HalfFloats.floatToHalf(f) & 0xffff, () -> String.format("round trip of 0x%04x", h));
        }
    }

    @Test
    void narrowingToHalfMatchesTheOracleAtEveryTieAndItsNeighbours() {
        int checked = 0;
        for (int h = 0; h < 0x7c00; h++) {
            // The exact midpoint between h and h+1 (exactly representable in float32) and one ulp either side.
            float mid = (float) ((HALF[h] + HALF[h + 1]) / 2);
            for (float f : new float[] {mid, Math.nextDown(mid), Math.nextUp(mid), -mid, -Math.nextUp(mid)}) {
                assertEquals(halfOracle(f), HalfFloats.floatToHalf(f) & 0xffff, () -> "float " + f + " = " + Float.toHexString(f));
                checked++;
            }
        }
        assertEquals(5 * 0x7c00, checked);
    }

    @Test
    void narrowingToHalfMatchesTheOracleOnASweepOfAllFloats() {
        // Every 4099th bit pattern (a prime stride reaching every exponent and mantissa phase), plus random ones.
        for (long bits = 0; bits <= 0xffffffffL; bits += 4099) {
            float f = Float.intBitsToFloat((int) bits);
            assertEquals(halfOracle(f), HalfFloats.floatToHalf(f) & 0xffff, () -> Float.toHexString(f));
        }
        SplittableRandom r = new SplittableRandom(20231023);
        for (int i = 0; i < 1_000_000; i++) {
            float f = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(-30, 20)));
            assertEquals(halfOracle(f), HalfFloats.floatToHalf(f) & 0xffff, () -> Float.toHexString(f));
        }
    }

    @Test
    void halfEdgeCases() {
        assertEquals(0x7bff, HalfFloats.floatToHalf(65504f) & 0xffff, "largest half");
        assertEquals(0x7bff, HalfFloats.floatToHalf(Math.nextDown(65520f)) & 0xffff, "just below the overflow threshold");
        assertEquals(0x7c00, HalfFloats.floatToHalf(65520f) & 0xffff, "65520 ties to the even pattern: infinity");
        assertEquals(0xfc00, HalfFloats.floatToHalf(-1e10f) & 0xffff);
        assertEquals(0x7c00, HalfFloats.floatToHalf(Float.POSITIVE_INFINITY) & 0xffff);
        assertEquals(0x0001, HalfFloats.floatToHalf(0x1p-24f) & 0xffff, "smallest subnormal");
        assertEquals(0x0000, HalfFloats.floatToHalf(0x1p-25f) & 0xffff, "half of it ties to zero");
        assertEquals(0x0001, HalfFloats.floatToHalf(Math.nextUp(0x1p-25f)) & 0xffff);
        assertEquals(0x0002, HalfFloats.floatToHalf(0x1.8p-24f) & 0xffff, "1.5 subnormal steps tie up to 2");
        assertEquals(0x8000, HalfFloats.floatToHalf(-Float.MIN_VALUE) & 0xffff, "underflow keeps the sign");
        assertEquals(0x0400, HalfFloats.floatToHalf(0x1.ffcp-15f) & 0xffff, "rounding up out of the subnormals");
        assertEquals(0x3c00, HalfFloats.floatToHalf(1 + 0x1p-11f) & 0xffff, "tie to even (down)");
        assertEquals(0x3c02, HalfFloats.floatToHalf(1 + 0x3p-11f) & 0xffff, "tie to even (up)");
        assertEquals(0x2e66, HalfFloats.floatToHalf(0.1f) & 0xffff, "numpy.float16(0.1)");
        assertEquals(0x3555, HalfFloats.floatToHalf(1f / 3) & 0xffff, "numpy.float16(1/3)");
        assertEquals(0xfe00, HalfFloats.floatToHalf(Float.intBitsToFloat(0xffc00001)) & 0xffff, "negative NaN");
    }

    @Test
    void narrowingToBfloat16MatchesTheOracle() {
        for (long bits = 0; bits <= 0xffffffffL; bits += 4099) {
            float f = Float.intBitsToFloat((int) bits);
            assertEquals(bf16Oracle(f), HalfFloats.floatToBfloat16(f) & 0xffff, () -> Float.toHexString(f));
        }
        for (int t = 0; t < 0x10000; t++) {
            // Every tie (low half exactly 0x8000) and its neighbours.
            for (int low : new int[] {0x7fff, 0x8000, 0x8001, 0}) {
                float f = Float.intBitsToFloat(t << 16 | low);
                assertEquals(bf16Oracle(f), HalfFloats.floatToBfloat16(f) & 0xffff, () -> Float.toHexString(f));
            }
        }
    }

    @Test
    void bfloat16EdgeCasesAndWidening() {
        assertEquals(0x3f80, HalfFloats.floatToBfloat16(1 + 0x1p-8f) & 0xffff, "tie to even (down)");
        assertEquals(0x3f82, HalfFloats.floatToBfloat16(1 + 0x3p-8f) & 0xffff, "tie to even (up)");
        assertEquals(0x7f80, HalfFloats.floatToBfloat16(Float.MAX_VALUE) & 0xffff, "past the largest bfloat16: infinity");
        assertEquals(0x7f7f, HalfFloats.floatToBfloat16(0x1.fep127f) & 0xffff);
        assertEquals(0x8000, HalfFloats.floatToBfloat16(-0f) & 0xffff);
        assertEquals(0x0000, HalfFloats.floatToBfloat16(Float.MIN_VALUE) & 0xffff);
        assertEquals(0x7fc0, HalfFloats.floatToBfloat16(Float.NaN) & 0xffff, "torch's canonical NaN");
        assertEquals(0x7fc0, HalfFloats.floatToBfloat16(Float.intBitsToFloat(0xff800001)) & 0xffff, "any NaN, as torch");
        for (int t = 0; t < 0x10000; t++) {
            float f = HalfFloats.bfloat16ToFloat((short) t);
            assertEquals(t << 16, Float.floatToRawIntBits(f), "widening is the top half of the float bits");
            if (!Float.isNaN(f)) {
                assertEquals(t, HalfFloats.floatToBfloat16(f) & 0xffff);
            }
        }
    }
}
