package org.cyclediffusion.core.spi;

import java.util.Locale;

/**
 * diffusers' {@code enable_attention_slicing}: attention computed a few heads at a time instead of
 * all {@code batch × heads} at once ({@code SlicedAttnProcessor}; here the slices never straddle two
 * images, so the kernel sees the unsliced call's layout), and, beyond diffusers, a few
 * query rows at a time, because for one large image it is the score matrix of a single head,
 * {@code [queries, keys]} = {@code (h·w)²}, that does not fit. Softmax is per query row and heads
 * are independent, so slicing changes the peak memory and nothing else (results equal the
 * unsliced attention up to float rounding).
 *
 * <p>The slice arithmetic lives here so the backend that slices and the memory estimate that
 * accounts for it use the same numbers.
 *
 * @param sliceSize heads per slice: 0 for off, {@link #AUTO_SLICE} for
 *                  half the heads (diffusers' {@code "auto"}), otherwise that many ({@code "max"} is 1)
 */
public record AttentionSlicing(int sliceSize) {
    /** Off: one call over every head and query at once. */
    public static final AttentionSlicing OFF = new AttentionSlicing(0);
    /** Marker for half the heads of each attention layer. */
    public static final int AUTO_SLICE = -1;
    /** diffusers' {@code "auto"}: half the heads per slice. */
    public static final AttentionSlicing AUTO = new AttentionSlicing(AUTO_SLICE);
    /** diffusers' {@code "max"}: one head per slice, the least memory. */
    public static final AttentionSlicing MAX = new AttentionSlicing(1);
    /**
     * Largest score matrix one slice may hold, in elements (64 MB in float32): query rows are
     * chunked to stay under it. Chosen so a 64×64 latent (SD at 512×512) runs a slice of 4 heads
     * in 4 chunks; a smaller bound buys little memory and costs many small GEMMs.
     */
    public static final long SCORE_ELEMENTS = 1L << 24;

    public AttentionSlicing {
        if (sliceSize < AUTO_SLICE) {
            throw new IllegalArgumentException("attention slice size must be positive, found " + sliceSize);
        }
    }

    /** {@code auto}, {@code max}, {@code off} or a positive number of heads per slice; the message names {@code what}. */
    public static AttentionSlicing parse(String text, String what) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        switch (s) {
            case "auto":
                return AUTO;
            case "max":
                return MAX;
            case "off":
            case "none":
                return OFF;
            default:
                try {
                    int n = Integer.parseInt(s);
                    if (n > 0) {
                        return new AttentionSlicing(n);
                    }
                } catch (NumberFormatException e) {
                    // fall through to the message
                }
                throw new IllegalArgumentException(what + " '" + text + "': expected auto, max, off or a positive number of heads per slice");
        }
    }

    public boolean isOff() {
        return sliceSize == 0;
    }

    /** Heads per slice for a layer with {@code heads} heads, at most {@code rows} (the heads of one image). */
    public long sliceRows(int heads, long rows) {
        long n = sliceSize == AUTO_SLICE ? Math.max(1, heads / 2) : sliceSize;
        return Math.max(1, Math.min(n, rows));
    }

    /** Query rows per chunk so that one slice's scores {@code sliceRows × chunk × keys} stay within {@link #SCORE_ELEMENTS}. */
    public static long queryChunk(long sliceRows, long keys, long queries) {
        long chunk = SCORE_ELEMENTS / Math.max(1, sliceRows * keys);
        return Math.max(1, Math.min(queries, chunk));
    }

    @Override
    public String toString() {
        return sliceSize == 0 ? "off" : sliceSize == AUTO_SLICE ? "auto" : sliceSize == 1 ? "max" : Integer.toString(sliceSize);
    }
}
