package org.cyclediffusion.libtorch.layers;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.spi.AttentionSlicing;

/**
 * Multi-head attention with input and output projections, as diffusers' {@code Attention} and
 * transformers' {@code CLIPAttention} compute it: {@code heads} heads of {@code dimHead} channels,
 * scale {@code dimHead^-0.5}, no mask (or the causal one), no residual.
 *
 * <p>One precision rule for every network: {@code scaled_dot_product_attention} in the input's
 * dtype, as diffusers' {@code AttnProcessor2_0} runs it on torch 2. Its CPU and CUDA kernels
 * accumulate q·kᵀ and the softmax in float32 for float16/bfloat16 inputs, which is what
 * {@code upcast_attention} (UNet) and {@code upcast_softmax} (VAE) ask of the classic processor
 * (scores and softmax in float32), so those flags need no extra cast here; for float32 models they
 * change nothing.
 *
 * <p>With {@link #setSlicing} on, the same call runs over slices of the {@code batch × heads} rows
 * and chunks of query rows ({@link AttentionSlicing}), each written into its place of the output,
 * so the score matrix held at once is one slice's.
 */
public final class Attention {
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final int heads;
    private final int dimHead;
    private final double scale;
    private volatile AttentionSlicing slicing = AttentionSlicing.OFF;

    private Attention(Linear toQ, Linear toK, Linear toV, Linear toOut, int heads, int dimHead) {
        this.toQ = toQ;
        this.toK = toK;
        this.toV = toV;
        this.toOut = toOut;
        this.heads = heads;
        this.dimHead = dimHead;
        this.scale = Math.pow(dimHead, -0.5);
    }

    /**
     * diffusers' names: {@code to_q}, {@code to_k}, {@code to_v} (bias when {@code qkvBias}: the VAE's
     * attention, not the UNet's transformer blocks), {@code to_out.0} with bias.
     *
     * @param contextDim {@code cross_attention_dim} for cross-attention, {@code queryDim} for self-attention
     */
    public static Attention diffusers(ParameterSource p, String prefix, int queryDim, int contextDim, int heads, int dimHead,
            boolean qkvBias) {
        int inner = heads * dimHead;
        return new Attention(
                Linear.create(p, prefix + ".to_q", queryDim, inner, qkvBias),
                Linear.create(p, prefix + ".to_k", contextDim, inner, qkvBias),
                Linear.create(p, prefix + ".to_v", contextDim, inner, qkvBias),
                Linear.create(p, prefix + ".to_out.0", inner, queryDim, true),
                heads, dimHead);
    }

    /**
     * transformers' {@code CLIPAttention}: {@code q_proj}, {@code k_proj}, {@code v_proj}, {@code out_proj},
     * all with bias. CLIP scales q by {@code head_dim^-0.5} before q·kᵀ: the same scale.
     */
    public static Attention clip(ParameterSource p, String prefix, int dim, int heads) {
        return new Attention(
                Linear.create(p, prefix + ".q_proj", dim, dim, true),
                Linear.create(p, prefix + ".k_proj", dim, dim, true),
                Linear.create(p, prefix + ".v_proj", dim, dim, true),
                Linear.create(p, prefix + ".out_proj", dim, dim, true),
                heads, dim / heads);
    }

    /** diffusers' {@code set_attention_slice} for this layer. */
    public void setSlicing(AttentionSlicing slicing) {
        this.slicing = slicing;
    }

    /** Self-attention without mask. */
    public Tensor forward(Tensor x) {
        return forward(x, x, false);
    }

    /**
     * @param x       [B, Lq, queryDim]
     * @param context [B, Lk, contextDim] (x itself for self-attention)
     * @param causal  mask future positions (CLIP's text tower: transformers adds the dtype's minimum
     *                above the diagonal; every row keeps its diagonal, so {@code is_causal} gives the
     *                same softmax)
     */
    public Tensor forward(Tensor x, Tensor context, boolean causal) {
        long batch = x.size(0);
        Tensor q = splitHeads(toQ.forward(x), batch);
        Tensor k = splitHeads(toK.forward(context), batch);
        Tensor v = splitHeads(toV.forward(context), batch);
        AttentionSlicing s = slicing;
        Tensor o = s.isOff() ? sdpa(q, k, v, causal) : sliced(q, k, v, causal, batch, s);
        // [B, heads, Lq, d] → [B, Lq, heads·d]
        Tensor merged = o.transpose(1, 2).reshape(batch, -1, (long) heads * dimHead);
        return toOut.forward(merged);
    }

    private Tensor sdpa(Tensor q, Tensor k, Tensor v, boolean causal) {
        return torch.scaled_dot_product_attention(q, k, v, new TensorOptional(), 0.0, causal, new DoubleOptional(scale), false);
    }

    /**
     * q, k, v [B, heads, L, d] → [B, heads, Lq, d], a slice of heads of one batch row and a chunk of
     * queries at a time. The slices are views with the unsliced call's strides, so the kernel sees
     * the same memory layout (a contiguous copy alone moves the tiny UNet's output by 1.5e-6). A
     * causal mask is relative to the chunk's first query, so causal attention (CLIP's 77 tokens,
     * never the large case) is sliced by heads only.
     */
    private Tensor sliced(Tensor q, Tensor k, Tensor v, boolean causal, long batch, AttentionSlicing s) {
        long lq = q.size(2);
        long lk = k.size(2);
        Tensor out = torch.empty_like(q);
        long slice = s.sliceRows(heads, heads);
        long chunk = causal ? lq : AttentionSlicing.queryChunk(slice, lk, lq);
        for (long b = 0; b < batch; b++) {
            for (long h = 0; h < heads; h += slice) {
                long n = Math.min(slice, heads - h);
                for (long c = 0; c < lq; c += chunk) {
                    long m = Math.min(chunk, lq - c);
                    // each slice's views and result are freed before the next one is computed
                    try (PointerScope scope = new PointerScope()) {
                        Tensor part = sdpa(q.narrow(0, b, 1).narrow(1, h, n).narrow(2, c, m), k.narrow(0, b, 1).narrow(1, h, n),
                                v.narrow(0, b, 1).narrow(1, h, n), causal);
                        out.narrow(0, b, 1).narrow(1, h, n).narrow(2, c, m).copy_(part);
                    }
                }
            }
        }
        return out;
    }

    /** [B, L, heads·d] → [B, heads, L, d]. */
    private Tensor splitHeads(Tensor t, long batch) {
        return t.view(batch, -1, heads, dimHead).transpose(1, 2);
    }
}
