package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/** CLIP text model: token ids to the encoder hidden states the UNet attends to. */
public interface TextEncoder extends AutoCloseable {
    /**
     * @param ids      [B][77] token ids
     * @param clipSkip 0 for the last layer; k &gt; 0 takes the output of the layer k before the last
     *                 and applies the final layer norm, as diffusers' {@code encode_prompt} does
     * @return [B, 77, hidden]
     */
    FloatTensor encode(long[][] ids, int clipSkip);

    /** Hidden size (= the UNet's cross-attention dimension). */
    int hiddenSize();

    @Override
    void close();
}
