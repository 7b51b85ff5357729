package org.cyclediffusion.safety;

import java.nio.file.Path;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.TensorSource;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The fixed half of diffusers' {@code StableDiffusionSafetyChecker}: the concept embeddings and
 * their cosine thresholds, stored beside the CLIP vision weights in
 * {@code safety_checker/model.safetensors} under the parameter names {@code concept_embeds [17, P]},
 * {@code special_care_embeds [3, P]}, {@code concept_embeds_weights [17]} and
 * {@code special_care_embeds_weights [3]} (P = {@code projection_dim}).
 */
public record SafetyConcepts(FloatTensor conceptEmbeds, FloatTensor specialCareEmbeds, float[] conceptThresholds,
                             float[] specialCareThresholds) {

    public SafetyConcepts {
        if (conceptEmbeds.rank() != 2 || specialCareEmbeds.rank() != 2 || conceptEmbeds.dim(1) != specialCareEmbeds.dim(1)) {
            throw new IllegalArgumentException("concept embeddings must be [N, P] and [M, P] with the same P, found "
                    + conceptEmbeds + " and " + specialCareEmbeds);
        }
        if (conceptThresholds.length != conceptEmbeds.dim(0) || specialCareThresholds.length != specialCareEmbeds.dim(0)) {
            throw new IllegalArgumentException("one threshold per concept expected: " + conceptEmbeds.dim(0) + " and "
                    + specialCareEmbeds.dim(0) + ", found " + conceptThresholds.length + " and " + specialCareThresholds.length);
        }
    }

    /** The projection dimension the image embeddings must have. */
    public int projectionDim() {
        return conceptEmbeds.dim(1);
    }

    /** Reads the four tensors from a checker's safetensors file (the CLIP weights in it are left alone). */
    public static SafetyConcepts load(Path safetensors) {
        try (SafetensorsFile file = SafetensorsFile.open(safetensors)) {
            return load(file);
        }
    }

    /** Reads the four tensors from a checker's weights, one file or shards (the CLIP weights are left alone); the caller closes them. */
    public static SafetyConcepts load(TensorSource file) {
        FloatTensor concepts = require(file, "concept_embeds", 2);
        FloatTensor special = require(file, "special_care_embeds", 2);
        FloatTensor conceptWeights = require(file, "concept_embeds_weights", 1);
        FloatTensor specialWeights = require(file, "special_care_embeds_weights", 1);
        if (concepts.dim(1) != special.dim(1) || conceptWeights.dim(0) != concepts.dim(0)
                || specialWeights.dim(0) != special.dim(0)) {
            throw new ConfigException(file.describe() + ": inconsistent safety concepts: concept_embeds " + concepts
                    + ", special_care_embeds " + special + ", concept_embeds_weights " + conceptWeights
                    + ", special_care_embeds_weights " + specialWeights
                    + " (expected [N, P], [M, P], [N], [M])");
        }
        return new SafetyConcepts(concepts, special, conceptWeights.data(), specialWeights.data());
    }

    private static FloatTensor require(TensorSource file, String name, int rank) {
        if (!file.tensors().containsKey(name)) {
            throw new ConfigException(file.describe() + ": no tensor '" + name
                    + "' (a StableDiffusionSafetyChecker checkpoint stores concept_embeds, special_care_embeds,"
                    + " concept_embeds_weights and special_care_embeds_weights)");
        }
        FloatTensor t = file.floatTensor(name);
        if (t.rank() != rank) {
            throw new ConfigException(file.describe() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(t.shape())
                    + ", expected rank " + rank);
        }
        return t;
    }
}
