package org.cyclediffusion.core.tokenizer;

import java.util.Arrays;

/**
 * One prompt as diffusers' pipeline feeds it to the text encoder:
 * {@code tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length,
 * truncation=True).input_ids}.
 *
 * @param ids                exactly {@code maxLength} ids: bos, the prompt's tokens, eos, then the
 *                           pad id; a prompt too long keeps its first {@code maxLength - 2} tokens
 * @param untruncatedLength  the length without truncation or padding, bos and eos included
 *                           ({@code len(tokenizer(prompt).input_ids)})
 * @param truncated          whether tokens were cut ({@code untruncatedLength > maxLength}); diffusers
 *                           then logs the removed text
 */
public record TokenizedPrompt(long[] ids, int untruncatedLength, boolean truncated) {
    public TokenizedPrompt {
        ids = ids.clone();
    }

    @Override
    public long[] ids() {
        return ids.clone();
    }

    /** Number of ids that are not padding: bos, the kept tokens, eos. */
    public int length() {
        return Math.min(untruncatedLength, ids.length);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenizedPrompt p && Arrays.equals(ids, p.ids)
                && untruncatedLength == p.untruncatedLength && truncated == p.truncated;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(ids) + untruncatedLength) + Boolean.hashCode(truncated);
    }

    @Override
    public String toString() {
        return "TokenizedPrompt[ids=" + Arrays.toString(Arrays.copyOf(ids, length())) + (ids.length > length()
                ? " + " + (ids.length - length()) + " pad" : "") + ", untruncatedLength=" + untruncatedLength
                + ", truncated=" + truncated + "]";
    }
}
