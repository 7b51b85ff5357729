package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.cat;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.cyclediffusion.libtorch.layers.Conv2d;
import org.cyclediffusion.libtorch.layers.LayerNorm;
import org.cyclediffusion.libtorch.layers.ParameterSource;

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
    ClipVisionModel(ClipVisionConfig c, ParameterSource p, String prefix) {
        this.config = c;
        this.prefix = prefix;
        int hidden = c.hiddenSize();
        this.classEmbedding = p.take(prefix + ".embeddings.class_embedding", hidden);
        this.patchEmbedding = Conv2d.create(p, prefix + ".embeddings.patch_embedding", c.numChannels(), hidden, c.patchSize(),
                c.patchSize(), 0, false);
        this.positionEmbedding = p.take(prefix + ".embeddings.position_embedding.weight", c.numPositions(), hidden);
        this.preLayerNorm = LayerNorm.create(p, prefix + ".pre_layrnorm", hidden, c.layerNormEps());
        this.encoder = new ClipEncoder(p, prefix + ".encoder", c.numLayers(), hidden, c.intermediateSize(), c.numHeads(), c.activation(),
                c.layerNormEps());
        this.postLayerNorm = LayerNorm.create(p, prefix + ".post_layernorm", hidden, c.layerNormEps());
    }

    ClipVisionConfig config() {
        return config;
    }

    /** pixel values [B, C, S, S] (S = image_size) → pooled output [B, hidden]. */
    Tensor pooled(Tensor pixels) {
        long batch = pixels.size(0);
        Tensor patches = patchEmbedding.forward(pixels).flatten(2, -1).transpose(1, 2);
        Tensor cls = classEmbedding.expand(batch, 1, -1);
        Tensor hidden = cat(new TensorVector(cls, patches), 1).add(positionEmbedding);
        hidden = encoder.forward(preLayerNorm.forward(hidden), encoder.numLayers(), false);
        return postLayerNorm.forward(hidden.select(1, 0));
    }

    @Override
    public String toString() {
        return "CLIP vision " + prefix;
    }
}
