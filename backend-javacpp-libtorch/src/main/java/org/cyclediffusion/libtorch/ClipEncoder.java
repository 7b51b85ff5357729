package org.cyclediffusion.libtorch;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.Attention;
import org.cyclediffusion.libtorch.layers.LayerNorm;
import org.cyclediffusion.libtorch.layers.Linear;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.Scopes;

/**
 * transformers' {@code CLIPEncoder}: a stack of pre-norm transformer layers shared by the text and
 * the vision tower ({@code layers.i.{layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1, mlp.fc2}}).
 * Each layer frees its temporaries when it returns.
 */
final class ClipEncoder {
    /** One {@code CLIPEncoderLayer}: {@code x + attn(ln1(x))}, then {@code x + fc2(act(fc1(ln2(x))))}. */
    private record EncoderLayer(LayerNorm norm1, Attention attention, LayerNorm norm2, Linear fc1, Linear fc2) {
    }

    private final List<EncoderLayer> layers = new ArrayList<>();
    private final Activation activation;

    ClipEncoder(ParameterSource p, String prefix, int numLayers, int hidden, int intermediate, int heads, Activation activation,
            double eps) {
        this.activation = activation;
        for (int i = 0; i < numLayers; i++) {
            String l = prefix + ".layers." + i;
            layers.add(new EncoderLayer(
                    LayerNorm.create(p, l + ".layer_norm1", hidden, eps),
                    Attention.clip(p, l + ".self_attn", hidden, heads),
                    LayerNorm.create(p, l + ".layer_norm2", hidden, eps),
                    Linear.create(p, l + ".mlp.fc1", hidden, intermediate, true),
                    Linear.create(p, l + ".mlp.fc2", intermediate, hidden, true)));
        }
    }

    int numLayers() {
        return layers.size();
    }

    /**
     * Runs the first {@code count} layers; {@code causal} masks future positions (the text tower).
     * Each layer's input is freed once its output exists (the caller's {@code hidden} excepted), as in
     * the VAE: otherwise every layer's output lives until the pass returns.
     */
    Tensor forward(Tensor hidden, int count, boolean causal) {
        Tensor x = hidden;
        for (int i = 0; i < count; i++) {
            EncoderLayer l = layers.get(i);
            x = i == 0 ? layer(l, x, causal) : Scopes.consume(x, in -> layer(l, in, causal));
        }
        return x;
    }

    private Tensor layer(EncoderLayer l, Tensor in, boolean causal) {
        return Scopes.inChildScope(() -> {
            Tensor n1 = l.norm1().forward(in);
            Tensor h = in.add(l.attention().forward(n1, n1, causal));
            return h.add(l.fc2().forward(activation.apply(l.fc1().forward(l.norm2().forward(h)))));
        });
    }
}
