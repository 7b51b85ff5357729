/**
 * The CLIP tokenizer of Stable Diffusion: prompt text to the token ids the text encoder takes.
 *
 * <p>{@link org.cyclediffusion.core.tokenizer.ClipTokenizer} reproduces, id for id, transformers
 * 4.35's slow {@code CLIPTokenizer} without {@code ftfy} (the reference environment of the
 * goldens), as diffusers' pipelines call it: padded and truncated to {@code model_max_length}
 * with bos first and eos last. The steps live in one class each: the added-token split
 * ({@code AddedTokens}), the BasicTokenizer clean-up ({@code BasicTextNormalizer}), the CLIP
 * word pattern ({@code ClipPreTokenizer}), the byte-level alphabet ({@code ByteLevelAlphabet}) and
 * BPE ({@code BytePairEncoder}); character classes follow the reference's Unicode 14.0
 * ({@code PythonUnicode}) whatever the JVM's own Unicode version.
 */
package org.cyclediffusion.core.tokenizer;
