package org.cyclediffusion.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Truncation, batching, decoding and the building blocks, beyond what the goldens pin down. */
class ClipTokenizerBehaviourTest {
    private static ClipTokenizer sd1;
    private static ClipTokenizer sd2;

    @BeforeAll
    static void load() {
        sd1 = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));
        sd2 = ClipTokenizer.load(Fixtures.model("tiny-sd2").resolve("tokenizer"));
    }

    @Test
    void longPromptKeepsBosAndTheFirst75TokensThenEos() {
        String prompt = String.join(" ", Collections.nCopies(100, "word"));
        TokenizedPrompt t = sd1.tokenize(prompt);
        long[] ids = t.ids();
        assertEquals(77, ids.length);
        assertEquals(49406, ids[0]);
        assertTrue(Arrays.stream(ids, 1, 76).allMatch(id -> id == 2653), "75 x 'word</w>'");
        assertEquals(49407, ids[76]);
        assertEquals(102, t.untruncatedLength());
        assertTrue(t.truncated());
        assertEquals(String.join(" ", Collections.nCopies(25, "word")), sd1.truncatedText(prompt),
                "what diffusers reports as removed");
        assertEquals("", sd1.truncatedText("a photo of a cat"));

        // Exactly 75 tokens fit without truncation.
        String fits = String.join(" ", Collections.nCopies(75, "word"));
        assertFalse(sd1.tokenize(fits).truncated());
        assertEquals(77, sd1.tokenize(fits).untruncatedLength());
        assertTrue(sd1.tokenize(fits + " word").truncated());
    }

    @Test
    void encodeGivesOneRowPerPrompt() {
        List<String> prompts = List.of("An astronaut riding a horse", "", "A blue colored car");
        long[][] rows = sd2.encode(prompts);
        assertEquals(3, rows.length);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(sd2.tokenize(prompts.get(i)).ids(), rows[i]);
        }
        assertEquals(0, sd2.encode(List.of()).length);
    }

    @Test
    void tokenizedPromptIsAValue() {
        TokenizedPrompt a = sd1.tokenize("a photo of a cat");
        TokenizedPrompt b = sd1.tokenize("A PHOTO OF A CAT");
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertEquals(7, a.length());
        long[] ids = a.ids();
        ids[1] = -1;
        assertNotEquals(-1, a.ids()[1], "ids() is a copy");
        assertTrue(a.toString().contains("70 pad"), a.toString());
    }

    @Test
    void decodeAsTransformersDoes() {
        long[] ids = sd1.tokenize("Hello, world! How are you?").ids();
        assertEquals("hello, world! how are you?", sd1.decode(ids, true));
        String all = sd1.decode(Arrays.copyOf(ids, 11));
        assertEquals("<|startoftext|>hello, world! how are you? <|endoftext|><|endoftext|>", all);
        assertEquals("café crème brûlée", sd1.decode(sd1.tokenize("café crème brûlée").ids(), true));
        assertEquals("日本語のテキスト", sd1.decode(sd1.tokenize("日本語のテキスト").ids(), true).replace(" ", ""));
        // SD 2.x: '!' is the pad token, hence special, hence skipped like padding.
        assertEquals("hello, world how are you?", sd2.decode(sd2.tokenize("Hello, world! How are you?").ids(), true));
        assertThrows(CycleDiffusionException.class, () -> sd1.decode(new long[] {49408}));
        assertThrows(CycleDiffusionException.class, () -> sd1.decode(new long[] {-1}));
    }

    @Test
    void tokensAreTheBpeSymbols() {
        assertEquals(List.of("!!!", "??", "?...</w>"), sd1.tokens("!!!???..."));
        assertEquals(List.of("!", "!", "!", "??", "?...</w>"), sd2.tokens("!!!???..."),
                "SD 2.x cuts its pad token '!' out before BPE");
        assertEquals(List.of(), sd1.tokens(" \t\n"));
    }

    @Test
    void concurrentUseGivesTheSameIds() {
        List<String> prompts = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            prompts.add("prompt number " + i + " with a word" + (i % 37) + " and zyxw" + i);
        }
        ClipTokenizer fresh = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));
        long[][] serial = fresh.encode(prompts);
        ClipTokenizer other = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));
        long[][] parallel = IntStream.range(0, prompts.size()).parallel()
                .mapToObj(i -> other.tokenize(prompts.get(i)).ids()).toArray(long[][]::new);
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(serial[i], parallel[i]);
        }
    }

    @Test
    void byteLevelAlphabetIsAReversibleMapOfAll256Bytes() {
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (byte) i;
        }
        String symbols = ByteLevelAlphabet.encode(all);
        assertEquals(256, symbols.chars().distinct().count());
        for (int b = 0; b < 256; b++) {
            char c = symbols.charAt(b);
            boolean printable = b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE;
            assertTrue(printable ? c == b : c >= 0x100 && c <= 0x143, "byte " + b + " -> U+" + Integer.toHexString(c));
            assertFalse(Character.isWhitespace(c) || Character.isISOControl(c));
        }
        assertEquals("Ġ", ByteLevelAlphabet.encode(" "), "space is U+0120, as in CLIP's vocab");
        assertEquals("cafÃ©", ByteLevelAlphabet.encode("café"));
        assertArrayEquals(all, ByteLevelAlphabet.decode(symbols));
    }

    @Test
    void pythonUnicodeFollowsUnicode14() {
        // U+1FAE0 melting face: Unicode 14.0 (Java 17 says unassigned), a symbol the reference keeps.
        assertEquals(PythonUnicode.OTHER, PythonUnicode.classOf(0x1FAE0));
        // U+1FAE8 shaking face: Unicode 15.0, unassigned for the reference, hence dropped as Cn.
        assertEquals(PythonUnicode.CONTROL, PythonUnicode.classOf(0x1FAE8));
        assertEquals(PythonUnicode.LETTER, PythonUnicode.classOf(0x0870));
        assertEquals(PythonUnicode.NUMBER, PythonUnicode.classOf(0x16AC0));
        assertEquals(PythonUnicode.LETTER, PythonUnicode.classOf('a'));
        assertEquals(PythonUnicode.NUMBER, PythonUnicode.classOf(0x216B));
        assertEquals(PythonUnicode.CONTROL, PythonUnicode.classOf(0x200B));
        assertEquals(PythonUnicode.OTHER, PythonUnicode.classOf(0x2764));
        assertEquals(new String(Character.toChars(0x10597)), PythonUnicode.lower(new String(Character.toChars(0x10570))));
        assertEquals("ⱟ", PythonUnicode.lower("Ⱟ"));
        assertEquals("οδος σ.ς i̇", PythonUnicode.lower("ΟΔΟΣ Σ.Σ İ"));
        assertEquals(List.of("a", "b", "c"), PythonUnicode.split("\u2028a\u3000 b\u0085c\u00a0"));
        assertEquals("x", PythonUnicode.strip("\t\u2029x\u200a "));
    }
}
