package org.cyclediffusion.libtorch;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.Layers.LayerNorm;
import org.cyclediffusion.libtorch.Layers.Linear;

/**
 * transformers' {@code CLIPEncoder}: a stack of pre-norm transformer layers shared by the text and
 * the vision tower ({@code layers.i.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2}}).
 */
final class ClipEncoder {
    /** One {@code CLIPEncoderLayer}: {@code x + attn(ln1(x))}, then {@code x + fc2(act(fc1(ln2(x))))}. */
    private record EncoderLayer(LayerNorm norm1, Linear q, Linear k, Linear v, Linear out, LayerNorm norm2, Linear fc1, Linear fc2) {
    }

    private final List<EncoderLayer> layers;
    private final long heads;
    private final Activation activation;

    ClipEncoder(TorchWeights w, String prefix, int numLayers, long heads, Activation activation, double eps) {
        this.heads = heads;
        this.activation = activation;
        this.layers = new ArrayList<>();
        for (int i = 0; i < numLayers; i++) {
            String p = prefix + ".layers." + i;
            layers.add(new EncoderLayer(
                    LayerNorm.of(w, p + ".layer_norm1", eps),
                    Linear.of(w, p + ".self_attn.q_proj", true),
                    Linear.of(w, p + ".self_attn.k_proj", true),
                    Linear.of(w, p + ".self_attn.v_proj", true),
                    Linear.of(w, p + ".self_attn.out_proj", true),
                    LayerNorm.of(w, p + ".layer_norm2", eps),
                    Linear.of(w, p + ".mlp.fc1", true),
                    Linear.of(w, p + ".mlp.fc2", true)));
        }
    }

    static void expect(Map<String, long[]> shapes, String prefix, int numLayers, long hidden, long intermediate) {
        for (int i = 0; i < numLayers; i++) {
            String p = prefix + ".layers." + i;
            LayerNorm.expect(shapes, p + ".layer_norm1", hidden);
            for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) {
                Linear.expect(shapes, p + ".self_attn." + proj, hidden, hidden, true);
            }
            LayerNorm.expect(shapes, p + ".layer_norm2", hidden);
            Linear.expect(shapes, p + ".mlp.fc1", intermediate, hidden, true);
            Linear.expect(shapes, p + ".mlp.fc2", hidden, intermediate, true);
        }
    }

    int numLayers() {
        return layers.size();
    }

    /**
     * Runs the first {@code count} layers. {@code causal} masks future positions, as the text
     * tower's causal mask does (transformers adds the dtype's minimum above the diagonal; every row
     * keeps its diagonal, so {@code is_causal} attention gives the same softmax).
     */
    Tensor forward(Tensor hidden, int count, boolean causal) {
        Tensor x = hidden;
        for (int i = 0; i < count; i++) {
            EncoderLayer l = layers.get(i);
            Tensor h = l.norm1().apply(x);
            // CLIPAttention scales q by head_dim^-0.5 before q·kᵀ; SDPA applies the same scale.
            h = Layers.attention(l.q().apply(h), l.k().apply(h), l.v().apply(h), heads, causal, false);
            x = x.add(l.out().apply(h));
            h = l.fc2().apply(activation.apply(l.fc1().apply(l.norm2().apply(x))));
            x = x.add(h);
        }
        return x;
    }
}
