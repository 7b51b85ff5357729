package org.cyclediffusion.libtorch;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.Layers.GroupNorm;
import org.cyclediffusion.libtorch.Layers.Linear;

/**
 * The self-attention of the VAE's mid block: diffusers' {@code Attention} with a group norm, one
 * head over all channels, a residual connection and {@code upcast_softmax}, as
 * {@code AttnProcessor2_0} runs it on [B, C, H, W] (flattened to H·W tokens of C features).
 */
final class VaeAttentionBlock {
    private final GroupNorm groupNorm;
    private final Linear q;
    private final Linear k;
    private final Linear v;
    private final Linear out;

    VaeAttentionBlock(TorchWeights w, String prefix, int groups, double eps) {
        this.groupNorm = GroupNorm.of(w, prefix + ".group_norm", groups, eps);
        this.q = Linear.of(w, prefix + ".to_q", true);
        this.k = Linear.of(w, prefix + ".to_k", true);
        this.v = Linear.of(w, prefix + ".to_v", true);
        this.out = Linear.of(w, prefix + ".to_out.0", true);
    }

    static void expect(Map<String, long[]> shapes, String prefix, int channels) {
        GroupNorm.expect(shapes, prefix + ".group_norm", channels);
        for (String proj : new String[] {"to_q", "to_k", "to_v", "to_out.0"}) {
            Linear.expect(shapes, prefix + "." + proj, channels, channels, true);
        }
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
        long b = x.size(0);
        long c = x.size(1);
        long h = x.size(2);
        long w = x.size(3);
        Tensor tokens = groupNorm.apply(x).view(b, c, h * w).transpose(1, 2);
        // heads = channels / attention_head_dim = 1 (the VAE sets attention_head_dim to the channel count).
        Tensor attended = Layers.attention(q.apply(tokens), k.apply(tokens), v.apply(tokens), 1, false, true);
        Tensor projected = out.apply(attended).transpose(1, 2).reshape(b, c, h, w);
        return projected.add(x);
    }
}
