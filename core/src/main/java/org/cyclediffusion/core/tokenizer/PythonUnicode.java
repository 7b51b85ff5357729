package org.cyclediffusion.core.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The character properties the reference tokenizer reads, as the reference Python sees them:
 * CPython 3.11's {@code unicodedata} is Unicode 14.0, while Java 17's {@link Character} tables
 * are Unicode 13.0 (and later JVMs know characters Unicode 14 does not).
 *
 * <p>Where it matters: transformers' {@code BasicTokenizer._clean_text} drops every character
 * whose category starts with {@code C}, which includes the unassigned {@code Cn}. So an emoji
 * first assigned in Unicode 14 (U+1FAE0 melting face) survives in the reference but would vanish
 * on Java 17, and one assigned in Unicode 15 (U+1FAE8 shaking face) vanishes in the reference but
 * would survive on Java 21. {@link #DELTA} corrects both: it lists the code points whose Unicode
 * 14.0 class differs from Java 17's (all first assigned in 14.0) and the code points unassigned
 * in 14.0 but assigned by Unicode 15.0 to 17.0. Every other code point takes the JVM's category,
 * which for Java 17 agrees with Python 3.11 on all 1,114,112 code points once the delta is applied
 * (checked exhaustively when the table was made). Lower-casing is Java's full mapping (final
 * sigma and U+0130 included, as {@code str.lower()}), plus the 40 Unicode 14.0 capitals Java 17
 * cannot lower.
 *
 * <p>Not covered: NFC's canonical reordering of the 40 combining marks new in Unicode 14.0 when
 * they stand next to other combining marks, and characters assigned after Unicode 17.0.
 */
final class PythonUnicode {
    /** Coarse classes, all the tokenizer distinguishes. */
    static final int CONTROL = 0; // category C*: Cc, Cf, Cs, Co, Cn
    static final int LETTER = 1; // L*: what the pattern's \p{L} matches
    static final int NUMBER = 2; // N*: \p{N}
    static final int OTHER = 3; // M*, P*, S*, Z*

    /**
     * "start[-end] class" entries, sorted, non-overlapping; class C = unassigned in Unicode 14.0,
     * L/N/O = assigned in 14.0 with that class. Generated from Python 3.11.7's unicodedata 14.0.0
     * against Java 17.0.15's Character and the regex module's Unicode 17 tables.
     */
    private static final String DELTA = ""
            + "61D O 870-887 L 888 O 889-88E L 88F C 897 C 898-89F O 8B5 L 8C8-8C9 L 8CA-8D2 O C3C O "
            + "C5C C C5D L CDC C CDD L CF3 C ECE C 170D L 1715 O 171F L 180F O 1AC1-1ACE O 1ACF-1ADD C "
            + "1AE0-1AEB C 1B4C L 1B4E-1B4F C 1B7D-1B7E O 1B7F C 1C89-1C8A C 1DFA O 20C0 O 20C1 C "
            + "2427-2429 C 2B96 C 2C2F L 2C5F L 2E53-2E5D O 2FFC-2FFF C 31E4-31E5 C 31EF C 9FFD-9FFF L "
            + "A7C0-A7C1 L A7CB-A7CF C A7D0-A7D1 L A7D2 C A7D3 L A7D4 C A7D5-A7D9 L A7DA-A7DC C A7F1 C "
            + "A7F2-A7F4 L FBC2 O FBC3-FBD2 C FD40-FD4F O FD90-FD91 C FDC8-FDCE C FDCF O FDFE-FDFF O "
            + "10570-1057A L 1057C-1058A L 1058C-10592 L 10594-10595 L 10597-105A1 L 105A3-105B1 L "
            + "105B3-105B9 L 105BB-105BC L 105C0-105F3 C 10780-10785 L 10787-107B0 L 107B2-107BA L "
            + "10940-10959 C 10D40-10D65 C 10D69-10D85 C 10D8E-10D8F C 10EC2-10EC7 C 10ED0-10ED8 C "
            + "10EFA-10EFF C 10F70-10F81 L 10F82-10F89 O 11070 O 11071-11072 L 11073-11074 O 11075 L "
            + "110C2 O 1123F-11241 C 11380-11389 C 1138B C 1138E C 11390-113B5 C 113B7-113C0 C 113C2 C "
            + "113C5 C 113C7-113CA C 113CC-113D5 C 113D7-113D8 C 113E1-113E2 C 116B9 O 116D0-116E3 C "
            + "11740-11746 L 11AB0-11ABF L 11B00-11B09 C 11B60-11B67 C 11BC0-11BE1 C 11BF0-11BF9 C "
            + "11DB0-11DDB C 11DE0-11DE9 C 11F00-11F10 C 11F12-11F3A C 11F3E-11F5A C 12F90-12FF0 L "
            + "12FF1-12FF2 O 1342F C 13439-13455 C 13460-143FA C 16100-16139 C 16A70-16ABE L "
            + "16AC0-16AC9 N 16D40-16D79 C 16EA0-16EB8 C 16EBB-16ED3 C 16FF2-16FF6 C 187F8-187FF C "
            + "18CFF C 18D09-18D1E C 18D80-18DF2 C 1AFF0-1AFF3 L 1AFF5-1AFFB L 1AFFD-1AFFE L "
            + "1B11F-1B122 L 1B132 C 1B155 C 1CC00-1CCFC C 1CD00-1CEB3 C 1CEBA-1CED0 C 1CEE0-1CEF0 C "
            + "1CF00-1CF2D O 1CF30-1CF46 O 1CF50-1CFC3 O 1D1E9-1D1EA O 1D2C0-1D2D3 C 1DF00-1DF1E L "
            + "1DF25-1DF2A C 1E030-1E06D C 1E08F C 1E290-1E2AD L 1E2AE O 1E4D0-1E4F9 C 1E5D0-1E5FA C "
            + "1E5FF C 1E6C0-1E6DE C 1E6E0-1E6F5 C 1E6FE-1E6FF C 1E7E0-1E7E6 L 1E7E8-1E7EB L "
            + "1E7ED-1E7EE L 1E7F0-1E7FE L 1F6D8 C 1F6DC C 1F6DD-1F6DF O 1F774-1F77F C 1F7D9 C 1F7F0 O "
            + "1F8B2-1F8BB C 1F8C0-1F8C1 C 1F8D0-1F8D8 C 1F979 O 1F9CC O 1FA54-1FA57 C 1FA75-1FA77 C "
            + "1FA7B-1FA7C O 1FA87-1FA8A C 1FA8E-1FA8F C 1FAA9-1FAAC O 1FAAD-1FAAF C 1FAB7-1FABA O "
            + "1FABB-1FABF C 1FAC3-1FAC5 O 1FAC6 C 1FAC8 C 1FACD-1FACF C 1FAD7-1FAD9 O 1FADA-1FADC C "
            + "1FADF C 1FAE0-1FAE7 O 1FAE8-1FAEA C 1FAEF C 1FAF0-1FAF6 O 1FAF7-1FAF8 C 1FBCB-1FBEF C "
            + "1FBFA C 2A6DE-2A6DF L 2B735-2B738 L 2B739-2B73F C 2CEA2-2CEAD C 2EBF0-2EE5D C "
            + "31350-33479 C";

    /** Unicode 14.0 capitals Java 17 leaves unchanged: "start[-end]+offset" (hex), lower = cp + offset. */
    private static final String LOWER_DELTA =
            "2C2F+30 A7C0+1 A7D0+1 A7D6+1 A7D8+1 10570-1057A+27 1057C-1058A+27 1058C-10592+27 10594-10595+27";

    private static final int[] DELTA_START;
    private static final int[] DELTA_END;
    private static final int[] DELTA_CLASS;
    private static final int[] LOWER_START;
    private static final int[] LOWER_END;
    private static final int[] LOWER_OFFSET;

    static {
        String[] f = DELTA.trim().split(" ");
        int n = f.length / 2;
        DELTA_START = new int[n];
        DELTA_END = new int[n];
        DELTA_CLASS = new int[n];
        for (int i = 0; i < n; i++) {
            String range = f[2 * i];
            int dash = range.indexOf('-');
            DELTA_START[i] = Integer.parseInt(dash < 0 ? range : range.substring(0, dash), 16);
            DELTA_END[i] = dash < 0 ? DELTA_START[i] : Integer.parseInt(range.substring(dash + 1), 16);
            DELTA_CLASS[i] = switch (f[2 * i + 1]) {
                case "C" -> CONTROL;
                case "L" -> LETTER;
                case "N" -> NUMBER;
                case "O" -> OTHER;
                default -> throw new IllegalStateException("bad class in DELTA: " + f[2 * i + 1]);
            };
        }
        String[] g = LOWER_DELTA.split(" ");
        LOWER_START = new int[g.length];
        LOWER_END = new int[g.length];
        LOWER_OFFSET = new int[g.length];
        for (int i = 0; i < g.length; i++) {
            String[] rangeAndOffset = g[i].split("\\+");
            String[] ends = rangeAndOffset[0].split("-");
            LOWER_START[i] = Integer.parseInt(ends[0], 16);
            LOWER_END[i] = Integer.parseInt(ends[ends.length - 1], 16);
            LOWER_OFFSET[i] = Integer.parseInt(rangeAndOffset[1], 16);
        }
    }

    private PythonUnicode() {
    }

    /** The coarse class of a code point under Unicode 14.0. */
    static int classOf(int cp) {
        int i = find(DELTA_START, DELTA_END, cp);
        if (i >= 0) {
            return DELTA_CLASS[i];
        }
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                    Character.UNASSIGNED -> CONTROL;
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                    Character.MODIFIER_LETTER, Character.OTHER_LETTER -> LETTER;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            default -> OTHER;
        };
    }

    /** General category Zs (space separators; a fixed set since Unicode 6). */
    static boolean isSpaceSeparator(int cp) {
        return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A)
                || cp == 0x202F || cp == 0x205F || cp == 0x3000;
    }

    /** Python's {@code str.isspace()}: what {@code str.split()} and {@code str.strip()} cut on. */
    static boolean isSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85
                || cp == 0x2028 || cp == 0x2029 || isSpaceSeparator(cp);
    }

    /** Python's {@code str.split()} with no argument: runs of whitespace separate, ends trimmed. */
    static List<String> split(String text) {
        List<String> out = new ArrayList<>();
        int start = -1;
        for (int i = 0; i < text.length();) {
            int cp = text.codePointAt(i);
            if (isSpace(cp)) {
                if (start >= 0) {
                    out.add(text.substring(start, i));
                    start = -1;
                }
            } else if (start < 0) {
                start = i;
            }
            i += Character.charCount(cp);
        }
        if (start >= 0) {
            out.add(text.substring(start));
        }
        return out;
    }

    /** Python's {@code str.strip()}. */
    static String strip(String s) {
        return stripTrailing(stripLeading(s));
    }

    /** Python's {@code str.lstrip()}. */
    static String stripLeading(String s) {
        int b = 0;
        while (b < s.length() && isSpace(s.codePointAt(b))) {
            b += Character.charCount(s.codePointAt(b));
        }
        return s.substring(b);
    }

    /** Python's {@code str.rstrip()}. */
    static String stripTrailing(String s) {
        int e = s.length();
        while (e > 0 && isSpace(s.codePointBefore(e))) {
            e -= Character.charCount(s.codePointBefore(e));
        }
        return s.substring(0, e);
    }

    /** Python's {@code str.lower()} (full case mapping, Unicode 14.0). */
    static String lower(String s) {
        String lowered = s.toLowerCase(Locale.ROOT);
        StringBuilder out = null;
        for (int i = 0; i < lowered.length();) {
            int cp = lowered.codePointAt(i);
            int k = cp >= LOWER_START[0] ? find(LOWER_START, LOWER_END, cp) : -1;
            if (k >= 0 && out == null) {
                out = new StringBuilder(lowered.length());
                out.append(lowered, 0, i);
            }
            if (out != null) {
                out.appendCodePoint(k >= 0 ? cp + LOWER_OFFSET[k] : cp);
            }
            i += Character.charCount(cp);
        }
        return out == null ? lowered : out.toString();
    }

    private static int find(int[] start, int[] end, int cp) {
        int lo = 0;
        int hi = start.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (cp < start[mid]) {
                hi = mid - 1;
            } else if (cp > end[mid]) {
                lo = mid + 1;
            } else {
                return mid;
            }
        }
        return -1;
    }
}
