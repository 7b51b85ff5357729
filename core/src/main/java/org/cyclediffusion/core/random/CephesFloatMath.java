package org.cyclediffusion.core.random;

/**
 * Float32 natural log and sine/cosine exactly as torch's CPU {@code randn} computes them for
 * tensors of 16 elements or more: one lane of {@code log256_ps} and {@code sincos256_ps} from
 * aten/src/ATen/native/cpu/avx_mathfun.h (Cephes polynomials by way of Pommier's sse_mathfun), which
 * {@code normal_fill_16_AVX2} calls.
 *
 * <p>Not libm: with {@code logf}/{@code sinf}/{@code cosf} about one element in a hundred differs in
 * the last bit. Bit parity also needs the fused multiply-adds that GCC forms when it compiles those
 * intrinsics for the AVX2 kernel ({@code -mfma}, default {@code -ffp-contract=fast}): every
 * multiply feeding an add is contracted, and the cosine polynomial's last {@code y·z} fuses into
 * the following {@code − z/2}. With plain multiply-then-add about 1% of elements are off by 1 ulp.
 * Both choices are checked bit for bit against torch 1.13 by {@code TorchGeneratorTest}.
 */
final class CephesFloatMath {
    private static final float SQRT_HALF = 0.707106781186547524f;
    private static final float[] LOG_P = {
        7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f, -1.2420140846E-1f, 1.4249322787E-1f,
        -1.6668057665E-1f, 2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f,
    };
    /** ln 2 split into a small correction and an exactly representable head. */
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float LN2_HI = 0.693359375f;

    private static final float FOUR_OVER_PI = 1.27323954473516f;
    /** π/4 split in three for Cody–Waite range reduction, negated. */
    private static final float MINUS_DP1 = -0.78515625f;
    private static final float MINUS_DP2 = -2.4187564849853515625e-4f;
    private static final float MINUS_DP3 = -3.77489497744594108e-8f;
    private static final float COS_P0 = 2.443315711809948E-005f;
    private static final float COS_P1 = -1.388731625493765E-003f;
    private static final float COS_P2 = 4.166664568298827E-002f;
    private static final float SIN_P0 = -1.9515295891E-4f;
    private static final float SIN_P1 = 8.3321608736E-3f;
    private static final float SIN_P2 = -1.6666654611E-1f;

    private static final int SIGN_BIT = 0x80000000;

    private CephesFloatMath() {
    }

    /** {@code log256_ps} for one lane; the callers only pass values in (0, 1]. */
    static float log(float x) {
        // Denormals are cut off to the smallest normal, as the kernel does.
        x = Math.max(x, Float.MIN_NORMAL);
        int bits = Float.floatToRawIntBits(x);
        float e = (float) ((bits >>> 23) - 0x7f) + 1f;
        // Mantissa in [0.5, 1).
        x = Float.intBitsToFloat((bits & ~0x7f800000) | Float.floatToRawIntBits(0.5f));
        if (x < SQRT_HALF) {
            e = e - 1f;
            x = (x - 1f) + x;
        } else {
            x = x - 1f;
        }
        float z = x * x;
        float y = LOG_P[0];
        for (int i = 1; i < LOG_P.length; i++) {
            y = Math.fma(y, x, LOG_P[i]);
        }
        y = y * x;
        y = Math.fma(y, z, e * LN2_LO);
        y = Math.fma(z, -0.5f, y);
        x = x + y;
        return Math.fma(e, LN2_HI, x);
    }

    /**
     * {@code sincos256_ps} for one lane. Writes sine to {@code out[0]} and cosine to {@code out[1]};
     * accurate for |x| below 8192 (the callers pass [0, 2π)).
     */
    static void sincos(float x, float[] out) {
        int signSin = Float.floatToRawIntBits(x) & SIGN_BIT;
        x = Math.abs(x);
        // Octant j, rounded up to even; truncation as cvttps does.
        int j = (int) (x * FOUR_OVER_PI);
        j = (j + 1) & ~1;
        float y = (float) j;
        signSin ^= (j & 4) << 29;
        int signCos = (~(j - 2) & 4) << 29;
        boolean sinUsesSinPoly = (j & 2) == 0;

        x = Math.fma(y, MINUS_DP1, x);
        x = Math.fma(y, MINUS_DP2, x);
        x = Math.fma(y, MINUS_DP3, x);
        float z = x * x;

        float c = Math.fma(COS_P0, z, COS_P1);
        c = Math.fma(c, z, COS_P2);
        c = c * z;
        c = Math.fma(c, z, -(z * 0.5f));
        c = c + 1f;

        float s = Math.fma(SIN_P0, z, SIN_P1);
        s = Math.fma(s, z, SIN_P2);
        s = s * z;
        s = Math.fma(s, x, x);

        float sin = sinUsesSinPoly ? s : c;
        float cos = sinUsesSinPoly ? c : s;
        out[0] = Float.intBitsToFloat(Float.floatToRawIntBits(sin) ^ signSin);
        out[1] = Float.intBitsToFloat(Float.floatToRawIntBits(cos) ^ signCos);
    }
}
