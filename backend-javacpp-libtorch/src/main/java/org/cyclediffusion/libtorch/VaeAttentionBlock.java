package org.cyclediffusion.libtorch;

import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.layers.Attention;
import org.cyclediffusion.libtorch.layers.GroupNorm;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.Scopes;

/**
 * The self-attention of the VAE's mid block: diffusers' {@code Attention} with a group norm, one
 * head over all channels ({@code attention_head_dim} = the channel count), biased projections, a
 * residual connection and {@code upcast_softmax} (see {@link Attention} for how that is honoured),
 * as {@code AttnProcessor2_0} runs it on [B, C, H, W] flattened to H·W tokens of C features.
 */
final class VaeAttentionBlock {
    private final GroupNorm groupNorm;
    private final Attention attention;

    VaeAttentionBlock(ParameterSource p, String prefix, int channels, int groups, double eps) {
        this.groupNorm = GroupNorm.create(p, prefix + ".group_norm", groups, channels, eps);
        this.attention = Attention.diffusers(p, prefix, channels, channels, 1, channels, true);
    }

    /**
     * Names of checkpoints saved before diffusers 0.14 ({@code query, key, value, proj_attn}),
     * which diffusers renames on load ({@code _convert_deprecated_attention_blocks}); SD 1.x VAEs
     * on the Hub still carry them.
     */
    static String renameLegacy(String name) {
        if (!name.contains("mid_block.attentions.")) {
            return name;
        }
        return name.replace(".query.", ".to_q.").replace(".key.", ".to_k.").replace(".value.", ".to_v.")
                .replace(".proj_attn.", ".to_out.0.");
    }

    Tensor forward(Tensor x) {
        return Scopes.inChildScope(() -> {
            long b = x.size(0);
            long c = x.size(1);
            long h = x.size(2);
            long w = x.size(3);
            Tensor tokens = groupNorm.forward(x).view(b, c, h * w).transpose(1, 2);
            Tensor attended = attention.forward(tokens);
            return attended.transpose(1, 2).reshape(b, c, h, w).add(x);
        });
    }
}
