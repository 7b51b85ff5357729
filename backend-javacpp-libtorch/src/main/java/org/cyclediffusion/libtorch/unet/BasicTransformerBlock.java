package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.libtorch.layers.Attention;
import org.cyclediffusion.libtorch.layers.LayerNorm;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.Scopes;

/**
 * diffusers' {@code BasicTransformerBlock} as {@code Transformer2DModel} builds it for SD
 * ({@code norm_type="layer_norm"}, eps 1e-5, no attention bias, self-attention in {@code attn1},
 * cross-attention to the text in {@code attn2}, GEGLU feed-forward), pre-norm residual:
 * <pre>
 *   h = attn1(norm1(h)) + h;   h = attn2(norm2(h), text) + h;   h = ff(norm3(h)) + h
 * </pre>
 */
final class BasicTransformerBlock {
    private static final double NORM_EPS = 1e-5;
    private final LayerNorm norm1;
    private final Attention attn1;
    private final LayerNorm norm2;
    private final Attention attn2;
    private final LayerNorm norm3;
    private final FeedForward ff;

    private BasicTransformerBlock(LayerNorm norm1, Attention attn1, LayerNorm norm2, Attention attn2, LayerNorm norm3,
            FeedForward ff) {
        this.norm1 = norm1;
        this.attn1 = attn1;
        this.norm2 = norm2;
        this.attn2 = attn2;
        this.norm3 = norm3;
        this.ff = ff;
    }

    static BasicTransformerBlock create(ParameterSource p, String prefix, int dim, int heads, int dimHead, int crossAttentionDim) {
        LayerNorm norm1 = LayerNorm.create(p, prefix + ".norm1", dim, NORM_EPS);
        Attention attn1 = Attention.diffusers(p, prefix + ".attn1", dim, dim, heads, dimHead, false);
        LayerNorm norm2 = LayerNorm.create(p, prefix + ".norm2", dim, NORM_EPS);
        Attention attn2 = Attention.diffusers(p, prefix + ".attn2", dim, crossAttentionDim, heads, dimHead, false);
        LayerNorm norm3 = LayerNorm.create(p, prefix + ".norm3", dim, NORM_EPS);
        FeedForward ff = FeedForward.create(p, prefix + ".ff", dim);
        return new BasicTransformerBlock(norm1, attn1, norm2, attn2, norm3, ff);
    }

    void setAttentionSlicing(AttentionSlicing slicing) {
        attn1.setSlicing(slicing);
        attn2.setSlicing(slicing);
    }

    Tensor forward(Tensor h, Tensor encoderHiddenStates) {
        return Scopes.inChildScope(() -> {
            Tensor n1 = norm1.forward(h);
            Tensor x = attn1.forward(n1).add(h);
            x = attn2.forward(norm2.forward(x), encoderHiddenStates, false).add(x);
            return ff.forward(norm3.forward(x)).add(x);
        });
    }
}
