package org.cyclediffusion.libtorch;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.libtorch.layers.Activation;

/**
 * The vision half of a {@code CLIPConfig} ({@code safety_checker/config.json}). transformers saves
 * only the values that differ from the defaults, so {@code vision_config} is read with
 * {@code CLIPVisionConfig}'s defaults (4.35: hidden 768, intermediate 3072, 12 layers, 12 heads,
 * 3 channels, image 224, patch 32, {@code quick_gelu}, eps 1e-5) and {@code projection_dim} with
 * {@code CLIPConfig}'s (512): {@code visual_projection} maps the vision hidden size to it.
 */
record ClipVisionConfig(String source, int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numChannels,
        int imageSize, int patchSize, Activation activation, double layerNormEps, int projectionDim) {

    private static final Set<String> IGNORED_TOP = union(PretrainedConfigKeys.GENERIC, Set.of("logit_scale_init_value", "text_config",
            "text_config_dict"));
    private static final Set<String> IGNORED_VISION = PretrainedConfigKeys.GENERIC;

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new java.util.HashSet<>(a);
        u.addAll(b);
        return Set.copyOf(u);
    }

    static ClipVisionConfig read(JsonConfig clipConfig) {
        // transformers 4.35 CLIPConfig: values in the legacy vision_config_dict override vision_config.
        ObjectNode merged = JsonNodeFactory.instance.objectNode();
        for (String key : new String[] {"vision_config", "vision_config_dict"}) {
            clipConfig.get(key).ifPresent(n -> {
                if (!(n instanceof ObjectNode o)) {
                    throw clipConfig.unsupported(key, n, "an object");
                }
                merged.setAll(o);
            });
        }
        JsonConfig v = new JsonConfig(merged, clipConfig.source() + " → vision_config");
        ClipVisionConfig config = new ClipVisionConfig(v.source(),
                v.getInt("hidden_size", 768),
                v.getInt("intermediate_size", 3072),
                v.getInt("num_hidden_layers", 12),
                v.getInt("num_attention_heads", 12),
                v.getInt("num_channels", 3),
                v.getInt("image_size", 224),
                v.getInt("patch_size", 32),
                Activation.read(v, "hidden_act", "quick_gelu", Activation.QUICK_GELU, Activation.GELU),
                v.getDouble("layer_norm_eps", 1e-5),
                clipConfig.getInt("projection_dim", 512));
        if (config.numHeads <= 0 || config.hiddenSize % config.numHeads != 0) {
            throw v.unsupported("num_attention_heads", config.numHeads, "a divisor of hidden_size " + config.hiddenSize);
        }
        if (config.patchSize <= 0 || config.imageSize % config.patchSize != 0) {
            throw v.unsupported("patch_size", config.patchSize, "a divisor of image_size " + config.imageSize);
        }
        v.warnUnknownKeys(IGNORED_VISION);
        clipConfig.warnUnknownKeys(IGNORED_TOP);
        return config;
    }

    /** Patch tokens plus the class token. */
    int numPositions() {
        int g = imageSize / patchSize;
        return g * g + 1;
    }
}
