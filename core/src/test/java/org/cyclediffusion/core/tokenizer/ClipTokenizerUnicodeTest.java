package org.cyclediffusion.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.stream.Stream;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Prompts that exercise what the golden prompts do not: characters whose Unicode class differs
 * between Java 17 (Unicode 13) and the reference's Python 3.11 (Unicode 14), control and
 * zero-width characters, Python's whitespace set, final sigma, special tokens in another case,
 * the long s that {@code IGNORECASE} folds to {@code s}, NFC, CJK spacing, and SD 2.x's {@code "!"}.
 *
 * <p>Expected ids were computed under CPython 3.11.7 (unicodedata 14.0.0, the {@code regex}
 * module) by a line-for-line transcription of transformers 4.35.2's slow {@code CLIPTokenizer}
 * path (BasicTokenizer fallback, pattern, byte-level BPE) whose ids match all 32 rows of
 * {@code golden/tokenizer} on both tokenizers. Each row: bos, ids, eos (then padding).
 */
class ClipTokenizerUnicodeTest {
    private static ClipTokenizer sd1;
    private static ClipTokenizer sd2;

    @BeforeAll
    static void load() {
        sd1 = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));
        sd2 = ClipTokenizer.load(Fixtures.model("tiny-sd2").resolve("tokenizer"));
    }

    private record Row(String prompt, long[] sd1, long[] sd2) {
    }

    /** @param sd2 null when the SD 2.x ids are the same as the SD 1.x ones */
    private static Row row(String prompt, long[] sd1, long[] sd2) {
        return new Row(prompt, sd1, sd2 == null ? sd1 : sd2);
    }

    @TestFactory
    Stream<DynamicTest> idsAsPython311ComputesThem() {
        return Stream.of(
                row("melting \ud83e\udee0 face",
                        new long[] {49406, 19247, 558, 104, 510, 1710, 49407},
                        null),
                row("shaking \ud83e\udee8 face",
                        new long[] {49406, 19101, 1710, 49407},
                        null),
                row("vithkuqi \ud801\udd70\ud801\udd71\ud801\udd97 end",
                        new long[] {49406, 603, 513, 1836, 11256, 172, 238, 244, 245, 172, 238, 244, 246, 172, 238, 244, 501, 806, 49407},
                        null),
                row("\u039f\u0394\u039f\u03a3 \u03a3.\u03a3 \u0130STANBUL",
                        new long[] {49406, 138, 123, 138, 112, 138, 123, 139, 480, 139, 481, 269, 139, 480, 328, 16384, 11231, 49407},
                        null),
                row("tab\u000bvt\u000cff\u0085nel\u2028ls\u2029ps\u00a0nb\u3000end",
                        new long[] {49406, 2648, 31732, 1021, 2693, 1268, 814, 6813, 806, 49407},
                        null),
                row("<|ENDOFTEXT|> and <|StartOfText|> x<|endoftext|>y",
                        new long[] {49406, 49407, 537, 49406, 343, 49407, 344, 49407},
                        null),
                row("<|startoftext|><|endoftext|>",
                        new long[] {49406, 49406, 49407, 49407},
                        null),
                row("it'\u017f ok, IT'S OK",
                        new long[] {49406, 585, 6, 129, 379, 2481, 267, 585, 568, 2481, 49407},
                        null),
                row("zero\u200bwidth soft\u00adhyphen a\u0000b\ufffdc",
                        new long[] {49406, 14867, 23571, 1571, 7804, 745, 576, 5334, 49407},
                        null),
                row("\uff26\uff55\uff4c\uff4c \uff21\uff22\uff23\uff11\uff12\uff13",
                        new long[] {49406, 171, 121, 228, 171, 121, 243, 171, 121, 234, 171, 121, 490, 171, 121, 223, 171, 121, 224, 171, 121, 481, 171, 120, 495, 171, 120, 496, 171, 120, 497, 49407},
                        null),
                row("e\u0301 vs \u00e9",
                        new long[] {49406, 4166, 1547, 4166, 49407},
                        null),
                row("\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \u4e2d\u6587\u5b57\u7b26 \ud840\udc00",
                        new long[] {49406, 15197, 250, 31871, 255, 31625, 368, 169, 227, 235, 20305, 39820, 19759, 511, 29032, 485, 35751, 501, 163, 105, 355, 172, 254, 222, 478, 49407},
                        null),
                row("x\u00b2 \u00bd \u216b",
                        new long[] {49406, 343, 41175, 33613, 158, 227, 375, 49407},
                        null),
                row("wow!!! great! ?!",
                        new long[] {49406, 2781, 995, 830, 256, 2835, 49407},
                        new long[] {49406, 2781, 0, 0, 0, 830, 0, 286, 0, 49407}),
                row("\t\n ",
                        new long[] {49406, 49407},
                        null),
                row("don\u2019t ''s '",
                        new long[] {49406, 847, 728, 503, 339, 8445, 338, 262, 49407},
                        null),
                row("new arabic \u0870\u0871 mark\u061d",
                        new long[] {49406, 686, 16709, 156, 94, 108, 156, 94, 365, 2110, 148, 507, 49407},
                        null))
                .map(r -> DynamicTest.dynamicTest(describe(r.prompt()), () -> {
                    assertPadded(r.sd1(), sd1.tokenize(r.prompt()).ids(), 49407, r.prompt());
                    assertPadded(r.sd2(), sd2.tokenize(r.prompt()).ids(), 0, r.prompt());
                    assertEquals(r.sd1().length, sd1.tokenize(r.prompt()).untruncatedLength());
                }));
    }

    private static void assertPadded(long[] expectedPrefix, long[] actual, long pad, String prompt) {
        long[] expected = Arrays.copyOf(expectedPrefix, 77);
        Arrays.fill(expected, expectedPrefix.length, 77, pad);
        assertArrayEquals(expected, actual, "ids of " + describe(prompt));
    }

    /** The prompt with code points outside printable ASCII written as U+XXXX. */
    private static String describe(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(c -> {
            if (c >= 0x20 && c < 0x7F) {
                b.append((char) c);
            } else {
                b.append(String.format("<U+%04X>", c));
            }
        });
        return b.toString();
    }
}
