package org.cyclediffusion.ddim;

/**
 * The few torch 1.13 CPU float32 kernels whose rounding the DDIM tables depend on, reproduced
 * operation by operation so that {@code betas} and {@code alphas_cumprod} come out bit-identical
 * to diffusers' (every other op here is a single correctly rounded float operation, which Java's
 * {@code float} arithmetic reproduces as is).
 */
final class TorchFloat32 {
    /** Lanes of {@code Vectorized<float>} (AVX2: 256 bits); the linspace kernel's result depends on it. */
    private static final int VEC = 8;

    private TorchFloat32() {
    }

    /**
     * {@code torch.linspace(start, end, steps, dtype=torch.float32)}: step = (end − start)/(steps − 1)
     * in float; the first half counts up from {@code start}, the second half down from {@code end}
     * ({@code end − step·(steps − 1 − i)}). The kernel is vectorised: each 8-lane vector is
     * {@code base + k·step} with {@code base} computed once for its first index (and the side chosen
     * by that index), while the tail that does not fill two vectors is computed one element at a time.
     * torch's AVX2 build contracts these multiply-adds into fused multiply-adds (verified on the
     * golden: {@code start + step·i} rounded twice misses 128 of the 1000 betas; fused, all match).
     */
    static float[] linspace(double startValue, double endValue, int steps) {
        float start = (float) startValue;
        float end = (float) endValue;
        float[] out = new float[steps];
        if (steps == 0) {
            return out;
        }
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (float) (steps - 1);
        int halfway = steps / 2;
        // cpu_serial_kernel_vec runs 2 vectors per iteration, then a scalar loop for the rest.
        int vectorised = steps - steps % (2 * VEC);
        for (int base = 0; base < vectorised; base += VEC) {
            float first = element(start, end, step, steps, halfway, base);
            for (int k = 0; k < VEC; k++) {
                out[base + k] = Math.fma((float) k, step, first);
            }
        }
        for (int i = vectorised; i < steps; i++) {
            out[i] = element(start, end, step, steps, halfway, i);
        }
        return out;
    }

    private static float element(float start, float end, float step, int steps, int halfway, int i) {
        return i < halfway ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (steps - i - 1), end);
    }

    /** {@code torch.cumprod(x, 0)} on CPU: the running product is kept in double (acc_type) and rounded per output. */
    static float[] cumprod(float[] x) {
        float[] out = new float[x.length];
        double acc = 1.0;
        for (int i = 0; i < x.length; i++) {
            acc *= x[i];
            out[i] = (float) acc;
        }
        return out;
    }

    /** {@code tensor ** 0.5}: torch dispatches to sqrt, which is correctly rounded. */
    static float sqrt(float x) {
        return (float) Math.sqrt(x);
    }
}
