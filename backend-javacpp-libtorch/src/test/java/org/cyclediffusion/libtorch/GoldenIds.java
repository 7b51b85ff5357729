package org.cyclediffusion.libtorch;

import org.cyclediffusion.core.testing.Golden;

/** The token ids of a text-encoder golden as {@code long[B][77]}. */
final class GoldenIds {
    private GoldenIds() {
    }

    static long[][] of(Golden g) {
        long[] flat = g.i64("input_ids");
        int[] s = g.shape("input_ids");
        long[][] out = new long[s[0]][s[1]];
        for (int i = 0; i < s[0]; i++) {
            System.arraycopy(flat, i * s[1], out[i], 0, s[1]);
        }
        return out;
    }
}
