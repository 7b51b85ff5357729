package org.cyclediffusion.core.random;

import java.util.Arrays;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The default {@link NoiseSource}: a port of torch's CPU generator, so that
 * {@code new TorchGenerator(seed).randn(shape)} equals, bit for bit,
 * {@code torch.randn(shape, generator=torch.Generator().manual_seed(seed))} in float32 (torch 1.13,
 * CPU), and successive calls continue the same stream as successive torch calls on one generator.
 *
 * <p>torch's {@code normal_kernel} (aten/src/ATen/native/cpu/DistributionTemplates.h) has two paths:
 * <ul>
 *   <li>fewer than 16 elements: one double-precision Box–Muller draw per element
 *       ({@code at::normal_distribution<double>}, ATen/core/DistributionsHelper.h). Each fresh pair
 *       returns {@code r·cos θ} and caches {@code r·sin θ} in the generator for the next scalar
 *       draw, even one in a later call;</li>
 *   <li>16 elements or more ({@code normal_fill_AVX2}): float uniforms for every element first,
 *       then Box–Muller on blocks of 16 pairing element j with j+8; when the size is not a multiple
 *       of 16 the last 16 elements are overwritten by a block transformed from 16 fresh uniforms.
 *       This path neither reads nor writes the cached scalar sample.</li>
 * </ul>
 *
 * <p>Thread-safe: draws are serialised, as torch serialises them with the generator's mutex.
 */
public final class TorchGenerator implements NoiseSource {
    /** Below this many elements torch draws element by element (the cached double path). */
    private static final int VECTOR_PATH_MIN = 16;
    private static final int HALF_BLOCK = VECTOR_PATH_MIN / 2;
    /** {@code _mm256_set1_ps(2.0f * c10::pi<double>)}: 2π computed in double, rounded to float. */
    private static final float TWO_PI_F = (float) (2.0 * Math.PI);
    private static final long MASK_53 = (1L << 53) - 1;
    private static final int MASK_24 = (1 << 24) - 1;

    private final long seed;
    private final Mt19937 engine;
    /** torch's {@code next_double_normal_sample_}, an optional: valid while the flag is set. */
    private boolean hasCachedNormal;
    private double cachedNormal;
    private final float[] sinCos = new float[2];

    /**
     * Like {@code torch.Generator().manual_seed(seed)}. Only the low 32 bits seed the engine, so
     * seeds of 2^32 or more behave as {@code seed mod 2^32}; negative seeds as their two's
     * complement, as torch casts them to uint64.
     */
    public TorchGenerator(long seed) {
        this.seed = seed;
        this.engine = new Mt19937(seed);
    }

    /** The seed this generator was created with, as given. */
    public long seed() {
        return seed;
    }

    @Override
    public synchronized FloatTensor randn(int... shape) {
        long n = FloatTensor.numel(shape);
        if (n > Integer.MAX_VALUE - 8) {
            throw new CycleDiffusionException("randn: shape " + Arrays.toString(shape) + " has " + n
                    + " elements; a host tensor holds at most " + (Integer.MAX_VALUE - 8));
        }
        float[] data = new float[(int) n];
        if (data.length < VECTOR_PATH_MIN) {
            for (int i = 0; i < data.length; i++) {
                data[i] = (float) nextDoubleNormal();
            }
        } else {
            normalFill(data);
        }
        return new FloatTensor(data, shape);
    }

    /** {@code CPUGeneratorImpl::random64()}: the first 32-bit output is the high half. */
    private long random64() {
        long hi = Integer.toUnsignedLong(engine.nextInt());
        long lo = Integer.toUnsignedLong(engine.nextInt());
        return (hi << 32) | lo;
    }

    /** {@code uniform_real_distribution<double>(0, 1)}: 53 random bits, in [0, 1). */
    private double nextDoubleUniform() {
        return (random64() & MASK_53) * 0x1p-53;
    }

    /**
     * {@code uniform_real_distribution<float>(0, 1)}: the low 24 bits of one {@code random()}
     * output, in [0, 1).
     */
    private float nextFloatUniform() {
        return (engine.nextInt() & MASK_24) * 0x1p-24f;
    }

    /**
     * {@code normal_distribution<double>(0, 1)} in torch 1.13: Box–Muller with
     * {@code r = sqrt(−2·ln(1 − u2))} (later torch versions use {@code log1p(−u2)}), θ = 2π·u1.
     * StrictMath gives the correctly rounded or nearly so results glibc gives; after the cast to
     * float they agree bit for bit on the goldens.
     */
    private double nextDoubleNormal() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = nextDoubleUniform();
        double u2 = nextDoubleUniform();
        double r = Math.sqrt(-2.0 * StrictMath.log(1.0 - u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * StrictMath.sin(theta);
        hasCachedNormal = true;
        return r * StrictMath.cos(theta);
    }

    /** {@code normal_fill_AVX2} with mean 0 and std 1 (its final {@code fmadd(n, 1, 0)} is exact). */
    private void normalFill(float[] data) {
        int n = data.length;
        for (int i = 0; i < n; i++) {
            data[i] = nextFloatUniform();
        }
        for (int i = 0; i + VECTOR_PATH_MIN <= n; i += VECTOR_PATH_MIN) {
            normalFill16(data, i);
        }
        if (n % VECTOR_PATH_MIN != 0) {
            int tail = n - VECTOR_PATH_MIN;
            for (int i = tail; i < n; i++) {
                data[i] = nextFloatUniform();
            }
            normalFill16(data, tail);
        }
    }

    /** {@code normal_fill_16_AVX2}: in-place Box–Muller on pairs (j, j+8) of one block. */
    private void normalFill16(float[] data, int offset) {
        for (int j = offset; j < offset + HALF_BLOCK; j++) {
            float u1 = 1f - data[j]; // [0, 1) → (0, 1] for the log
            float u2 = data[j + HALF_BLOCK];
            // sqrt of a float through double is correctly rounded, as _mm256_sqrt_ps is.
            float radius = (float) Math.sqrt(-2f * CephesFloatMath.log(u1));
            CephesFloatMath.sincos(TWO_PI_F * u2, sinCos);
            data[j] = radius * sinCos[1];
            data[j + HALF_BLOCK] = radius * sinCos[0];
        }
    }
}
