package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.embedding;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.libtorch.layers.LayerNorm;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ShapeRecorder;

/**
 * transformers' {@code CLIPTextModel} (4.35) as Stable Diffusion uses it: token plus position
 * embeddings, a causal pre-norm transformer, the final layer norm. No attention mask (the pipeline
 * passes none), no pooled output (the pipeline does not use it).
 */
final class ClipTextModel {
    private static final String PREFIX = "text_model";

    private final ClipTextConfig config;
    private final Tensor tokenEmbedding;
    private final Tensor positionEmbedding;
    private final ClipEncoder encoder;
    private final LayerNorm finalLayerNorm;

    ClipTextModel(ClipTextConfig config, TorchWeights w) {
        this(config, new TorchWeightsSource(config.source(), w));
    }

    private ClipTextModel(ClipTextConfig c, ParameterSource p) {
        this.config = c;
        this.tokenEmbedding = p.take(PREFIX + ".embeddings.token_embedding.weight", c.vocabSize(), c.hiddenSize());
        this.positionEmbedding = p.take(PREFIX + ".embeddings.position_embedding.weight", c.maxPositions(), c.hiddenSize());
        this.encoder = new ClipEncoder(p, PREFIX + ".encoder", c.numLayers(), c.hiddenSize(), c.intermediateSize(), c.numHeads(),
                c.activation(), c.layerNormEps());
        this.finalLayerNorm = LayerNorm.create(p, PREFIX + ".final_layer_norm", c.hiddenSize(), c.layerNormEps());
    }

    /**
     * Every parameter of transformers' {@code CLIPTextModel} that {@code text_encoder/config.json}
     * describes, by state-dict name, with its shape ({@code position_ids} is a buffer, not listed).
     */
    static Map<String, long[]> expectedShapes(JsonConfig config) {
        return expectedShapes(ClipTextConfig.read(config));
    }

    static Map<String, long[]> expectedShapes(ClipTextConfig c) {
        ShapeRecorder recorder = new ShapeRecorder(c.source());
        new ClipTextModel(c, recorder);
        return recorder.shapes();
    }

    /**
     * @param ids      int64 [B, L], L ≤ max_position_embeddings
     * @param clipSkip 0: {@code last_hidden_state}; k &gt; 0: {@code final_layer_norm(hidden_states[-(k+1)])}, the
     *                 output of layer {@code numLayers − k}, as diffusers' {@code encode_prompt} computes it
     * @return [B, L, hidden]
     */
    Tensor forward(Tensor ids, int clipSkip) {
        if (clipSkip < 0 || clipSkip > config.numLayers()) {
            throw new CycleDiffusionException("clip skip " + clipSkip + ": expected 0 to " + config.numLayers()
                    + " (the text encoder of " + config.source() + " has " + config.numLayers() + " layers)");
        }
        long length = ids.size(1);
        if (length > config.maxPositions()) {
            throw new CycleDiffusionException("token ids: " + length + " per prompt, the text encoder takes at most "
                    + config.maxPositions() + " (" + config.source() + ")");
        }
        // position_ids = arange(L): the first L rows of the position table, broadcast over the batch.
        Tensor hidden = embedding(tokenEmbedding, ids).add(positionEmbedding.narrow(0, 0, length));
        hidden = encoder.forward(hidden, config.numLayers() - clipSkip, true);
        return finalLayerNorm.forward(hidden);
    }

    int hiddenSize() {
        return config.hiddenSize();
    }
}
