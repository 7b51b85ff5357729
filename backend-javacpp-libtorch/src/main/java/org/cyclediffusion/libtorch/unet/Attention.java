package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * diffusers' {@code Attention} as {@code BasicTransformerBlock} builds it: {@code to_q}, {@code
 * to_k}, {@code to_v} without bias, {@code to_out.0} with bias, {@code heads} heads of {@code
 * dimHead} channels, scale {@code dimHead^-0.5}, no mask, no residual, no rescale.
 *
 * <p>Computed with {@code scaled_dot_product_attention}, as diffusers' {@code AttnProcessor2_0}
 * does on torch 2. That processor ignores {@code upcast_attention}; the classic {@code
 * AttnProcessor} (which produced the goldens, on torch 1.13) honours it by computing scores and
 * softmax in float32 — a no-op for float32 models, and SDPA accumulates in float32 for half types
 * anyway. So {@code upcast_attention} is accepted and changes nothing here.
 */
final class Attention {
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final int heads;
    private final int dimHead;
    private final double scale;

    private Attention(Linear toQ, Linear toK, Linear toV, Linear toOut, int heads, int dimHead) {
        this.toQ = toQ;
        this.toK = toK;
        this.toV = toV;
        this.toOut = toOut;
        this.heads = heads;
        this.dimHead = dimHead;
        this.scale = Math.pow(dimHead, -0.5);
    }

    /** @param contextDim {@code cross_attention_dim} for cross-attention, {@code queryDim} for self-attention */
    static Attention create(ParameterSource p, String prefix, int queryDim, int contextDim, int heads, int dimHead) {
        int inner = heads * dimHead;
        return new Attention(
                Linear.create(p, prefix + ".to_q", queryDim, inner, false),
                Linear.create(p, prefix + ".to_k", contextDim, inner, false),
                Linear.create(p, prefix + ".to_v", contextDim, inner, false),
                Linear.create(p, prefix + ".to_out.0", inner, queryDim, true),
                heads, dimHead);
    }

    /** @param x [B, Lq, queryDim]; @param context [B, Lk, contextDim] (x itself for self-attention) */
    Tensor forward(Tensor x, Tensor context) {
        long batch = x.size(0);
        Tensor q = splitHeads(toQ.forward(x), batch);
        Tensor k = splitHeads(toK.forward(context), batch);
        Tensor v = splitHeads(toV.forward(context), batch);
        Tensor o = torch.scaled_dot_product_attention(q, k, v, new TensorOptional(), 0.0, false, new DoubleOptional(scale), false);
        // [B, heads, Lq, d] → [B, Lq, heads·d]
        Tensor merged = o.transpose(1, 2).reshape(batch, -1, (long) heads * dimHead);
        return toOut.forward(merged);
    }

    /** [B, L, heads·d] → [B, heads, L, d]. */
    private Tensor splitHeads(Tensor t, long batch) {
        return t.view(batch, -1, heads, dimHead).transpose(1, 2);
    }
}
