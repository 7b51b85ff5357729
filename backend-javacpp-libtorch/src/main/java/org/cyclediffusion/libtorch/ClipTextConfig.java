package org.cyclediffusion.libtorch;

import java.util.Set;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.libtorch.layers.Activation;

/**
 * {@code text_encoder/config.json} as transformers' {@code CLIPTextConfig} reads it, with its
 * defaults (4.35): vocab 49408, hidden 512, intermediate 2048, 12 layers, 8 heads, 77 positions,
 * {@code quick_gelu}, layer norm eps 1e-5.
 */
record ClipTextConfig(String source, int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
        int maxPositions, Activation activation, double layerNormEps) {

    /** Keys of the file that do not change the forward pass of {@code CLIPTextModel}. */
    private static final Set<String> IGNORED = PretrainedConfigKeys.GENERIC;

    static ClipTextConfig read(JsonConfig c) {
        ClipTextConfig config = new ClipTextConfig(c.source(),
                c.getInt("vocab_size", 49408),
                c.getInt("hidden_size", 512),
                c.getInt("intermediate_size", 2048),
                c.getInt("num_hidden_layers", 12),
                c.getInt("num_attention_heads", 8),
                c.getInt("max_position_embeddings", 77),
                Activation.read(c, "hidden_act", "quick_gelu", Activation.QUICK_GELU, Activation.GELU),
                c.getDouble("layer_norm_eps", 1e-5));
        if (config.numHeads <= 0 || config.hiddenSize % config.numHeads != 0) {
            throw c.unsupported("num_attention_heads", config.numHeads, "a divisor of hidden_size " + config.hiddenSize);
        }
        c.warnUnknownKeys(IGNORED);
        return config;
    }
}
