package org.cyclediffusion.core.random;

/**
 * The 32-bit Mersenne Twister MT19937 (Matsumoto &amp; Nishimura 1998), as torch's
 * {@code at::mt19937} (aten/src/ATen/core/MT19937RNGEngine.h) runs it: the reference
 * {@code init_genrand} seeding from the low 32 bits of the seed, the standard twist and tempering.
 * Its output equals C++'s {@code std::mt19937} and numpy's legacy {@code RandomState} for the same
 * 32-bit seed.
 *
 * <p>Not thread-safe; {@link TorchGenerator} serialises access as torch's generator mutex does.
 */
public final class Mt19937 {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;
    /** Knuth's multiplier used by {@code init_genrand}. */
    private static final int INIT_MULTIPLIER = 1812433253;

    private final int[] state = new int[N];
    private int next;

    /**
     * Seeds with {@code init_genrand(seed mod 2^32)}: torch keeps only the low 32 bits of the
     * 64-bit seed in the engine state, so {@code 2^32 + 5} and {@code 5} give the same stream.
     */
    public Mt19937(long seed) {
        state[0] = (int) seed;
        for (int i = 1; i < N; i++) {
            int prev = state[i - 1];
            state[i] = INIT_MULTIPLIER * (prev ^ (prev >>> 30)) + i;
        }
        next = N; // twist before the first output, as the reference does
    }

    /** The next 32-bit output; read it as unsigned ({@code Integer.toUnsignedLong}). */
    public int nextInt() {
        if (next >= N) {
            twist();
        }
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (state[i] & UPPER_MASK) | (state[(i + 1) % N] & LOWER_MASK);
            int mag = (y & 1) != 0 ? MATRIX_A : 0;
            state[i] = state[(i + M) % N] ^ (y >>> 1) ^ mag;
        }
        next = 0;
    }
}
