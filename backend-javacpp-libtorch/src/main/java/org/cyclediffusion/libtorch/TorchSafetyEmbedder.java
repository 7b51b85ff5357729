package org.cyclediffusion.libtorch;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.libtorch.Layers.Linear;

/**
 * The network half of diffusers' {@code StableDiffusionSafetyChecker}: {@code vision_model}
 * (a {@code CLIPVisionModel}, so its transformer sits under {@code vision_model.vision_model})
 * and {@code visual_projection}, pixel values → image embeddings. The concept embeddings and
 * thresholds in the same file are the safety module's business; they are checked, not loaded.
 */
final class TorchSafetyEmbedder extends TorchComponent implements SafetyEmbedder {
    static final String VISION_PREFIX = "vision_model.vision_model";
    /** Tensors of the checker file that the safety module scores with, in Java. */
    static final Set<String> CONCEPT_TENSORS = Set.of("concept_embeds", "special_care_embeds", "concept_embeds_weights",
            "special_care_embeds_weights");

    private final ClipVisionModel vision;
    private final Linear projection;

    private TorchSafetyEmbedder(TorchContext context, TorchWeights weights, ClipVisionModel vision, Linear projection) {
        super("safety checker", context, weights);
        this.vision = vision;
        this.projection = projection;
    }

    static TorchSafetyEmbedder load(ModelFolder folder, TorchContext context) {
        ClipVisionConfig config = ClipVisionConfig.read(folder.config("safety_checker", "config.json"));
        Path path = TorchWeights.locate(folder, "safety_checker", "model.safetensors");
        Map<String, long[]> expected = ClipVisionModel.expectedShapes(config, VISION_PREFIX);
        Linear.expect(expected, "visual_projection", config.projectionDim(), config.hiddenSize(), false);
        TorchWeights weights = TorchWeights.load(path, expected, CONCEPT_TENSORS, UnaryOperator.identity(), context, context.scalarType());
        try {
            return new TorchSafetyEmbedder(context, weights, new ClipVisionModel(config, weights, VISION_PREFIX),
                    Linear.of(weights, "visual_projection", false));
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    @Override
    public FloatTensor imageEmbeds(FloatTensor pixelValues) {
        ensureOpen();
        ClipVisionConfig c = vision.config();
        int[] s = pixelValues.shape();
        if (s.length != 4 || s[1] != c.numChannels() || s[2] != c.imageSize() || s[3] != c.imageSize()) {
            throw new CycleDiffusionException("safety checker pixel values: expected [B, " + c.numChannels() + ", " + c.imageSize() + ", "
                    + c.imageSize() + "] (CLIPImageProcessor output), found " + Arrays.toString(s));
        }
        return run(() -> TorchContext.download(projection.apply(vision.pooled(context().upload(pixelValues)))));
    }
}
