package org.cyclediffusion.libtorch.unet;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.libtorch.layers.Conv2d;
import org.cyclediffusion.libtorch.layers.GroupNorm;
import org.cyclediffusion.libtorch.layers.Linear;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.Scopes;

/**
 * diffusers' {@code Transformer2DModel} for continuous (feature-map) input: GroupNorm (eps 1e-6),
 * {@code proj_in}, the transformer blocks over the H·W tokens, {@code proj_out}, plus the input.
 * With {@code use_linear_projection} (SD 2.x) the projections are Linear layers applied after
 * flattening / before unflattening; otherwise (SD 1.x) they are 1×1 convolutions applied to the
 * feature map, with weights {@code [out, in, 1, 1]}.
 */
final class Transformer2DModel {
    private static final double NORM_EPS = 1e-6;
    private final GroupNorm norm;
    private final boolean linearProjection;
    private final Linear projInLinear;
    private final Conv2d projInConv;
    private final List<BasicTransformerBlock> blocks;
    private final Linear projOutLinear;
    private final Conv2d projOutConv;
    private final int inner;

    private Transformer2DModel(GroupNorm norm, boolean linearProjection, Linear projInLinear, Conv2d projInConv,
            List<BasicTransformerBlock> blocks, Linear projOutLinear, Conv2d projOutConv, int inner) {
        this.norm = norm;
        this.linearProjection = linearProjection;
        this.projInLinear = projInLinear;
        this.projInConv = projInConv;
        this.blocks = blocks;
        this.projOutLinear = projOutLinear;
        this.projOutConv = projOutConv;
        this.inner = inner;
    }

    static Transformer2DModel create(ParameterSource p, String prefix, int channels, int heads, int layers, int crossAttentionDim,
            int groups, boolean linearProjection) {
        int dimHead = channels / heads;
        int inner = heads * dimHead;
        GroupNorm norm = GroupNorm.create(p, prefix + ".norm", groups, channels, NORM_EPS);
        Linear inLinear = linearProjection ? Linear.create(p, prefix + ".proj_in", channels, inner, true) : null;
        Conv2d inConv = linearProjection ? null : Conv2d.create(p, prefix + ".proj_in", channels, inner, 1, 1, 0);
        List<BasicTransformerBlock> blocks = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            blocks.add(BasicTransformerBlock.create(p, prefix + ".transformer_blocks." + i, inner, heads, dimHead, crossAttentionDim));
        }
        Linear outLinear = linearProjection ? Linear.create(p, prefix + ".proj_out", inner, channels, true) : null;
        Conv2d outConv = linearProjection ? null : Conv2d.create(p, prefix + ".proj_out", inner, channels, 1, 1, 0);
        return new Transformer2DModel(norm, linearProjection, inLinear, inConv, List.copyOf(blocks), outLinear, outConv, inner);
    }

    void setAttentionSlicing(AttentionSlicing slicing) {
        blocks.forEach(b -> b.setAttentionSlicing(slicing));
    }

    Tensor forward(Tensor x, Tensor encoderHiddenStates) {
        return Scopes.inChildScope(() -> {
            long batch = x.size(0);
            long height = x.size(2);
            long width = x.size(3);
            Tensor h = norm.forward(x);
            Tensor tokens = linearProjection
                    ? projInLinear.forward(toTokens(h, batch, height, width, h.size(1)))
                    : toTokens(projInConv.forward(h), batch, height, width, inner);
            for (BasicTransformerBlock block : blocks) {
                tokens = block.forward(tokens, encoderHiddenStates); // each block frees its own temporaries
            }
            Tensor out = linearProjection
                    ? toFeatureMap(projOutLinear.forward(tokens), batch, height, width)
                    : projOutConv.forward(toFeatureMap(tokens, batch, height, width));
            return out.add(x);
        });
    }

    /** [B, H·W, C] → [B, C, H, W], contiguous, as diffusers' reshape + permute + contiguous. */
    private static Tensor toFeatureMap(Tensor t, long batch, long height, long width) {
        return t.reshape(batch, height, width, t.size(2)).permute(0, 3, 1, 2).contiguous();
    }

    /** [B, C, H, W] → [B, H·W, C], channels last, as diffusers' permute + reshape. */
    private static Tensor toTokens(Tensor h, long batch, long height, long width, long channels) {
        return h.permute(0, 2, 3, 1).reshape(batch, height * width, channels);
    }
}
