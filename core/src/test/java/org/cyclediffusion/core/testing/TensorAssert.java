package org.cyclediffusion.core.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import org.cyclediffusion.core.tensor.FloatTensor;

/** The project's one closeness assertion: numpy's {@code allclose} semantics with a useful message. */
public final class TensorAssert {
    private TensorAssert() {
    }

    /** |actual − expected| ≤ atol + rtol·|expected| element-wise; shapes must match; NaN equals NaN. */
    public static void assertAllClose(FloatTensor actual, FloatTensor expected, double rtol, double atol, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        assertAllClose(actual.data(), expected.data(), rtol, atol, what);
    }

    public static void assertAllClose(float[] actual, float[] expected, double rtol, double atol, String what) {
        if (actual.length != expected.length) {
            fail(what + ": length " + actual.length + ", expected " + expected.length);
        }
        int bad = 0;
        int worst = -1;
        double worstExcess = 0;
        double maxAbs = 0;
        for (int i = 0; i < actual.length; i++) {
            float a = actual[i];
            float e = expected[i];
            if (Float.isNaN(a) && Float.isNaN(e) || a == e) {
                continue;
            }
            double d = Math.abs((double) a - e);
            if (Double.isNaN(d)) {
                d = Double.POSITIVE_INFINITY;
            }
            maxAbs = Math.max(maxAbs, d);
            double tol = atol + rtol * Math.abs(e);
            if (!(d <= tol)) {
                bad++;
                if (worst < 0 || d - tol > worstExcess) {
                    worst = i;
                    worstExcess = d - tol;
                }
            }
        }
        if (bad > 0) {
            fail(String.format("%s: %d of %d elements differ beyond rtol=%g atol=%g; max |Δ| = %g; worst at [%d]: actual %s, expected %s",
                    what, bad, actual.length, rtol, atol, maxAbs, worst, actual[worst], expected[worst]));
        }
    }

    /** Max and mean |Δ| as a pair, for reporting. */
    public static double[] diffStats(float[] actual, float[] expected) {
        double max = 0;
        double sum = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = Math.abs((double) actual[i] - expected[i]);
            max = Math.max(max, d);
            sum += d;
        }
        return new double[] {max, sum / actual.length};
    }
}
