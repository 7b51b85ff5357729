package org.cyclediffusion.core.tokenizer;

import java.text.Normalizer;
import java.util.List;

/**
 * The text clean-up transformers' slow {@code CLIPTokenizer} does when {@code ftfy} is not
 * installed (the case of the reference, and of diffusers' own CI): {@code BasicTokenizer(
 * strip_accents=False, do_split_on_punc=False).tokenize(text)}, whose words
 * {@code CLIPTokenizer._tokenize} joins with single spaces. In order:
 * <ol>
 *   <li>{@code _clean_text}: drop U+0000, U+FFFD and every character of category C* except tab,
 *       newline and carriage return; turn those three and every Zs character into a space;</li>
 *   <li>{@code _tokenize_chinese_chars}: put a space on both sides of each CJK ideograph;</li>
 *   <li>NFC;</li>
 *   <li>{@code whitespace_tokenize}: split on Python whitespace ({@code str.split()});</li>
 *   <li>lower-case each word with {@code str.lower()} ({@code never_split} is empty, and the
 *       accents stay: {@code strip_accents=False}; punctuation is not split off).</li>
 * </ol>
 * With ftfy installed, transformers would instead run {@code ftfy.fix_text}, which we do not
 * emulate: the goldens and the diffusers test environment have no ftfy.
 */
final class BasicTextNormalizer {
    private BasicTextNormalizer() {
    }

    /** The cleaned, lower-cased words of {@code text}, joined by single spaces. */
    static String normalize(String text) {
        String cleaned = Normalizer.normalize(spaceCjk(clean(text)), Normalizer.Form.NFC);
        List<String> words = PythonUnicode.split(cleaned);
        StringBuilder out = new StringBuilder(cleaned.length());
        for (String w : words) {
            if (out.length() > 0) {
                out.append(' ');
            }
            out.append(PythonUnicode.lower(w));
        }
        return out.toString();
    }

    /** {@code BasicTokenizer._clean_text}. */
    static String clean(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length();) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            boolean tabOrNewline = cp == '\t' || cp == '\n' || cp == '\r';
            if (cp == 0 || cp == 0xFFFD || (!tabOrNewline && PythonUnicode.classOf(cp) == PythonUnicode.CONTROL)) {
                continue;
            }
            if (tabOrNewline || PythonUnicode.isSpaceSeparator(cp)) {
                out.append(' ');
            } else {
                out.appendCodePoint(cp);
            }
        }
        return out.toString();
    }

    /** {@code BasicTokenizer._tokenize_chinese_chars}. */
    private static String spaceCjk(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length();) {
            int cp = text.codePointAt(i);
            if (isCjkIdeograph(cp)) {
                if (out == null) {
                    out = new StringBuilder(text.length() + 16).append(text, 0, i);
                }
                out.append(' ').appendCodePoint(cp).append(' ');
            } else if (out != null) {
                out.appendCodePoint(cp);
            }
            i += Character.charCount(cp);
        }
        return out == null ? text : out.toString();
    }

    /**
     * {@code BasicTokenizer._is_chinese_char}: the CJK Unified Ideographs blocks and their
     * extensions A to E, and the compatibility ideographs. Hiragana, katakana and hangul are not
     * included: they are written with spaces between words.
     */
    static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF)
                || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F)
                || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
