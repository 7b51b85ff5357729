package org.cyclediffusion.libtorch;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.libtorch.layers.Linear;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ShapeRecorder;

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

    /** The checker's fixed concept counts ({@code torch.ones(17, projection_dim)}, {@code torch.ones(3, projection_dim)}). */
    private static final int CONCEPTS = 17;
    private static final int SPECIAL_CARE_CONCEPTS = 3;

    private final ClipVisionModel vision;
    private final Linear projection;

    private TorchSafetyEmbedder(TorchContext context, TorchWeights weights, ClipVisionModel vision, Linear projection) {
        super("safety checker", context, weights);
        this.vision = vision;
        this.projection = projection;
    }

    /** What this class loads: the vision tower and the bias-free {@code visual_projection} (hidden → projection_dim). */
    static Map<String, long[]> embedderShapes(ClipVisionConfig config) {
        ShapeRecorder recorder = new ShapeRecorder(config.source());
        new ClipVisionModel(config, recorder, VISION_PREFIX);
        projection(recorder, config);
        return new LinkedHashMap<>(recorder.shapes());
    }

    private static Linear projection(ParameterSource p, ClipVisionConfig config) {
        return Linear.create(p, "visual_projection", config.hiddenSize(), config.projectionDim(), false);
    }

    /**
     * Every parameter of diffusers' {@code StableDiffusionSafetyChecker} that
     * {@code safety_checker/config.json} (a {@code CLIPConfig}) describes, by state-dict name, with
     * its shape: the {@link #embedderShapes embedder's}, then the concept tensors, which the checker
     * creates as {@code nn.Parameter}s ({@code requires_grad=False}, still counted by
     * {@code parameters()}) with 17 concepts and 3 special-care concepts.
     */
    static Map<String, long[]> expectedShapes(JsonConfig clipConfig) {
        ClipVisionConfig config = ClipVisionConfig.read(clipConfig);
        Map<String, long[]> s = embedderShapes(config);
        s.put("concept_embeds", new long[] {CONCEPTS, config.projectionDim()});
        s.put("special_care_embeds", new long[] {SPECIAL_CARE_CONCEPTS, config.projectionDim()});
        s.put("concept_embeds_weights", new long[] {CONCEPTS});
        s.put("special_care_embeds_weights", new long[] {SPECIAL_CARE_CONCEPTS});
        return s;
    }

    static TorchSafetyEmbedder load(ModelFolder folder, TorchContext context) {
        ClipVisionConfig config = ClipVisionConfig.read(folder.config("safety_checker", "config.json"));
        Map<String, long[]> expected = embedderShapes(config);
        TorchWeights weights = TorchWeights.load(folder.weights("safety_checker", "model.safetensors"), expected, CONCEPT_TENSORS, UnaryOperator.identity(), context, context.scalarType());
        try {
            TorchWeightsSource source = new TorchWeightsSource(config.source(), weights);
            return new TorchSafetyEmbedder(context, weights, new ClipVisionModel(config, source, VISION_PREFIX), projection(source, config));
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
        return run(() -> TorchContext.download(projection.forward(vision.pooled(context().upload(pixelValues)))));
    }
}
