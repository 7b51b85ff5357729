package org.cyclediffusion.core.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits cleaned text into the words BPE runs on, as {@code re.findall(self.pat, text)} does in
 * transformers' {@code CLIPTokenizer}, with the pattern (Python {@code regex} module,
 * {@code IGNORECASE})
 * <pre>
 * &lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * </pre>
 * It is written out by hand rather than compiled with {@link java.util.regex.Pattern} because the
 * letter and number classes must follow Unicode 14.0 ({@link PythonUnicode}), not the JVM's
 * tables. The semantics are the regex's: at each position the alternatives are tried in order
 * (leftmost-first), the runs are greedy, and positions where nothing matches (whitespace) are
 * skipped. A digit is always a word of its own.
 *
 * <p>Case-insensitive matching only matters for the literal alternatives, because the text is
 * already lower-cased: under Unicode simple case folding U+017F (long s) equals {@code s}, so
 * {@code "'ſ"} matches {@code 's} as it does in the reference.
 */
final class ClipPreTokenizer {
    private static final String[] SPECIALS = {"<|startoftext|>", "<|endoftext|>"};
    private static final String[] CONTRACTIONS = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};

    private ClipPreTokenizer() {
    }

    static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        int i = 0;
        int n = text.length();
        while (i < n) {
            int cp = text.codePointAt(i);
            int end = matchLiteral(text, i, SPECIALS);
            if (end < 0) {
                end = matchLiteral(text, i, CONTRACTIONS);
            }
            if (end < 0) {
                int cls = classOf(cp);
                if (cls == PythonUnicode.LETTER) {
                    end = runOf(text, i, PythonUnicode.LETTER);
                } else if (cls == PythonUnicode.NUMBER) {
                    end = i + Character.charCount(cp);
                } else if (PythonUnicode.isSpace(cp)) {
                    i += Character.charCount(cp);
                    continue;
                } else {
                    end = runOf(text, i, PythonUnicode.OTHER);
                }
            }
            out.add(text.substring(i, end));
            i = end;
        }
        return out;
    }

    /** Letter, number, or anything else that is not whitespace (controls included, as {@code [^\s...]}). */
    private static int classOf(int cp) {
        int cls = PythonUnicode.classOf(cp);
        return cls == PythonUnicode.CONTROL ? PythonUnicode.OTHER : cls;
    }

    private static int runOf(String text, int start, int cls) {
        int i = start;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            if (classOf(cp) != cls || (cls == PythonUnicode.OTHER && PythonUnicode.isSpace(cp))) {
                break;
            }
            i += Character.charCount(cp);
        }
        return i;
    }

    /** End of the first literal that matches at {@code start} (case-insensitively), or -1. */
    private static int matchLiteral(String text, int start, String[] literals) {
        for (String lit : literals) {
            int i = start;
            int k = 0;
            while (k < lit.length() && i < text.length()) {
                int cp = text.codePointAt(i);
                if (!foldEquals(cp, lit.charAt(k))) {
                    break;
                }
                i += Character.charCount(cp);
                k++;
            }
            if (k == lit.length()) {
                return i;
            }
        }
        return -1;
    }

    /** Simple case-folding equality against a pattern character that is ASCII. */
    private static boolean foldEquals(int cp, char patternChar) {
        if (cp == patternChar) {
            return true;
        }
        if (patternChar >= 'a' && patternChar <= 'z') {
            return cp == patternChar - 'a' + 'A'
                    || (patternChar == 's' && cp == 0x017F) // LATIN SMALL LETTER LONG S
                    || (patternChar == 'k' && cp == 0x212A); // KELVIN SIGN
        }
        return false;
    }
}
