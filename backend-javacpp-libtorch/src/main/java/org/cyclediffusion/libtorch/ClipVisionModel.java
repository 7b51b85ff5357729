package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.cat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.cyclediffusion.libtorch.Layers.Conv2d;
import org.cyclediffusion.libtorch.Layers.LayerNorm;

/**
 * transformers' {@code CLIPVisionTransformer} (4.35): patch embedding (a bias-free conv with
 * stride = kernel = patch), a class token, position embeddings, {@code pre_layrnorm} (sic, the
 * stored name), the encoder without mask, and {@code post_layernorm} of the class token as the
 * pooled output.
 */
final class ClipVisionModel {
    private final ClipVisionConfig config;
    private final String prefix;
    private final Tensor classEmbedding;
    private final Conv2d patchEmbedding;
    private final Tensor positionEmbedding;
    private final LayerNorm preLayerNorm;
    private final ClipEncoder encoder;
    private final LayerNorm postLayerNorm;

    /** @param prefix where the vision transformer's weights live, e.g. {@code vision_model.vision_model} in the safety checker */
    ClipVisionModel(ClipVisionConfig config, TorchWeights w, String prefix) {
        this.config = config;
        this.prefix = prefix;
        this.classEmbedding = w.get(prefix + ".embeddings.class_embedding");
        this.patchEmbedding = new Conv2d(w.get(prefix + ".embeddings.patch_embedding.weight"), null, config.patchSize(), 0);
        this.positionEmbedding = w.get(prefix + ".embeddings.position_embedding.weight");
        this.preLayerNorm = LayerNorm.of(w, prefix + ".pre_layrnorm", config.layerNormEps());
        this.encoder = new ClipEncoder(w, prefix + ".encoder", config.numLayers(), config.numHeads(), config.activation(),
                config.layerNormEps());
        this.postLayerNorm = LayerNorm.of(w, prefix + ".post_layernorm", config.layerNormEps());
    }

    static Map<String, long[]> expectedShapes(ClipVisionConfig c, String prefix) {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put(prefix + ".embeddings.class_embedding", new long[] {c.hiddenSize()});
        s.put(prefix + ".embeddings.patch_embedding.weight", new long[] {c.hiddenSize(), c.numChannels(), c.patchSize(), c.patchSize()});
        s.put(prefix + ".embeddings.position_embedding.weight", new long[] {c.numPositions(), c.hiddenSize()});
        LayerNorm.expect(s, prefix + ".pre_layrnorm", c.hiddenSize());
        ClipEncoder.expect(s, prefix + ".encoder", c.numLayers(), c.hiddenSize(), c.intermediateSize());
        LayerNorm.expect(s, prefix + ".post_layernorm", c.hiddenSize());
        return s;
    }

    ClipVisionConfig config() {
        return config;
    }

    /** pixel values [B, C, S, S] (S = image_size) → pooled output [B, hidden]. */
    Tensor pooled(Tensor pixels) {
        long batch = pixels.size(0);
        Tensor patches = patchEmbedding.apply(pixels).flatten(2, -1).transpose(1, 2);
        Tensor cls = classEmbedding.expand(batch, 1, -1);
        Tensor hidden = cat(new TensorVector(cls, patches), 1).add(positionEmbedding);
        hidden = encoder.forward(preLayerNorm.apply(hidden), encoder.numLayers(), false);
        return postLayerNorm.apply(hidden.select(1, 0));
    }

    @Override
    public String toString() {
        return "CLIP vision " + prefix;
    }
}
