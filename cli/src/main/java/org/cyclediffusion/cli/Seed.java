package org.cyclediffusion.cli;

import java.math.BigInteger;
import picocli.CommandLine;

/**
 * {@code --seed}: what {@code torch.Generator().manual_seed} accepts, 0 … 2^64−1 (and negative
 * values down to −2^63, which torch maps to 2^64 + seed). Kept as the 64 bits torch stores: seeds
 * of 2^63 and above are the negative {@code long} with the same bits, and are printed unsigned.
 */
final class Seed implements CommandLine.ITypeConverter<Long> {
    private static final BigInteger MIN = BigInteger.ONE.shiftLeft(63).negate();
    private static final BigInteger MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    @Override
    public Long convert(String value) {
        BigInteger v;
        try {
            v = new BigInteger(value.trim());
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not an integer (expected 0 to 18446744073709551615, as torch's manual_seed)");
        }
        if (v.compareTo(MIN) < 0 || v.compareTo(MAX) > 0) {
            throw new CommandLine.TypeConversionException("'" + value + "' is out of range: expected 0 to 18446744073709551615"
                    + " (torch's manual_seed takes 64-bit seeds; negative ones down to -9223372036854775808 wrap around)");
        }
        return v.longValue(); // the low 64 bits: 2^63 becomes Long.MIN_VALUE, -1 becomes 2^64 - 1
    }

    /** The seed as torch prints it ({@code torch.initial_seed()}): unsigned. */
    static String toString(long seed) {
        return Long.toUnsignedString(seed);
    }
}
