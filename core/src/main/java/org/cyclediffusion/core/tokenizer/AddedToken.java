package org.cyclediffusion.core.tokenizer;

/**
 * A token matched on the raw text before any clean-up or BPE (transformers' {@code AddedToken}):
 * the special tokens ({@code <|startoftext|>}, {@code <|endoftext|>}, and SD 2.x's pad token
 * {@code "!"}), and tokens added to the vocabulary (textual inversion).
 *
 * @param content    the exact text matched (case-sensitive)
 * @param lstrip     the token swallows the whitespace on its left
 * @param rstrip     the token swallows the whitespace on its right
 * @param singleWord the token only stands alone when it is not glued to a neighbouring word
 * @param special    one of the special tokens (affects only decoding)
 */
record AddedToken(String content, boolean lstrip, boolean rstrip, boolean singleWord, boolean special) {
    static AddedToken plain(String content, boolean special) {
        return new AddedToken(content, false, false, false, special);
    }
}
