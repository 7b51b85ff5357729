package org.cyclediffusion.safety;

import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The scoring half of diffusers v0.23.0 {@code StableDiffusionSafetyChecker.forward}: cosine
 * similarity of the image embeddings with each concept, minus the concept's threshold, rounded to
 * three decimals; an image is flagged when any concept score is positive.
 *
 * <p>Numeric semantics, as the reference runs them (numpy 1.24): the cosines are a float32 array;
 * each element is a numpy float32 scalar, the threshold is {@code .item()} (a Python float), so
 * {@code cos - threshold + adjustment} is evaluated in float64 (numpy 1.x promotes
 * {@code float32 scalar - Python float} to float64), and {@code round(x, 3)} on a float64 scalar is
 * numpy's {@code rint(x * 1000) / 1000} in float64. The scores here are computed exactly that way,
 * in double, and only then stored as float in the {@link SafetyVerdict}.
 */
public final class SafetyScoring {
    /** What a special-care hit adds to every later score (diffusers' {@code adjustment = 0.01}). */
    static final double SPECIAL_CARE_ADJUSTMENT = 0.01;
    /** torch.nn.functional.normalize's default eps. */
    private static final double NORMALIZE_EPS = 1e-12;

    private final SafetyConcepts concepts;
    private final float[][] normalizedConcepts;
    private final float[][] normalizedSpecial;

    public SafetyScoring(SafetyConcepts concepts) {
        this.concepts = concepts;
        this.normalizedConcepts = normalizeRows(concepts.conceptEmbeds());
        this.normalizedSpecial = normalizeRows(concepts.specialCareEmbeds());
    }

    public SafetyConcepts concepts() {
        return concepts;
    }

    /** One verdict per row of {@code imageEmbeds [B, projection_dim]}. */
    public List<SafetyVerdict> score(FloatTensor imageEmbeds) {
        float[][] specialCos = specialCareCosines(imageEmbeds);
        float[][] conceptCos = conceptCosines(imageEmbeds);
        List<SafetyVerdict> out = new ArrayList<>(specialCos.length);
        for (int i = 0; i < specialCos.length; i++) {
            out.add(score(specialCos[i], conceptCos[i]));
        }
        return out;
    }

    /**
     * The per-image loop of {@code forward}, on already computed cosines. The adjustment starts at
     * 0 and becomes 0.01 as soon as a special-care score is positive, for the special-care concepts
     * after it and for every concept.
     */
    public SafetyVerdict score(float[] specialCos, float[] conceptCos) {
        ExactScores e = exactScores(specialCos, conceptCos);
        return new SafetyVerdict(e.nsfw(), toFloats(e.special()), toFloats(e.concept()));
    }

    /** The scores as the float64 values diffusers computes (and its pipeline reports), with the final adjustment. */
    record ExactScores(double[] special, double[] concept, double adjustment, boolean nsfw) {
    }

    ExactScores exactScores(float[] specialCos, float[] conceptCos) {
        float[] specialThresholds = concepts.specialCareThresholds();
        float[] conceptThresholds = concepts.conceptThresholds();
        if (specialCos.length != specialThresholds.length || conceptCos.length != conceptThresholds.length) {
            throw new IllegalArgumentException("expected " + specialThresholds.length + " special-care and " + conceptThresholds.length
                    + " concept cosines, found " + specialCos.length + " and " + conceptCos.length);
        }
        double adjustment = 0.0;
        double[] specialScores = new double[specialCos.length];
        for (int k = 0; k < specialCos.length; k++) {
            specialScores[k] = round3((double) specialCos[k] - (double) specialThresholds[k] + adjustment);
            if (specialScores[k] > 0) {
                adjustment = SPECIAL_CARE_ADJUSTMENT;
            }
        }
        boolean nsfw = false;
        double[] conceptScores = new double[conceptCos.length];
        for (int k = 0; k < conceptCos.length; k++) {
            conceptScores[k] = round3((double) conceptCos[k] - (double) conceptThresholds[k] + adjustment);
            nsfw |= conceptScores[k] > 0;
        }
        return new ExactScores(specialScores, conceptScores, adjustment, nsfw);
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /** numpy's {@code round(x, 3)} for a float64: multiply by 10**3, round half to even, divide. */
    static double round3(double x) {
        return Math.rint(x * 1000.0) / 1000.0;
    }

    /**
     * diffusers' {@code cosine_distance(image_embeds, special_care_embeds)}: {@code [B, 3]}. Like
     * torch's {@code mm(normalize(a), normalize(b).T)} in float32; dot products and norms are
     * accumulated in double and rounded once, within an ulp or two of torch's float32 kernels.
     */
    public float[][] specialCareCosines(FloatTensor imageEmbeds) {
        return cosineDistance(imageEmbeds, normalizedSpecial);
    }

    /** diffusers' {@code cosine_distance(image_embeds, concept_embeds)}: {@code [B, 17]}. */
    public float[][] conceptCosines(FloatTensor imageEmbeds) {
        return cosineDistance(imageEmbeds, normalizedConcepts);
    }

    private float[][] cosineDistance(FloatTensor imageEmbeds, float[][] normalizedTargets) {
        int p = concepts.projectionDim();
        if (imageEmbeds.rank() != 2 || imageEmbeds.dim(1) != p) {
            throw new IllegalArgumentException("image embeddings must be [B, " + p + "] (the checker's projection_dim), found "
                    + imageEmbeds);
        }
        float[][] images = normalizeRows(imageEmbeds);
        float[][] out = new float[images.length][normalizedTargets.length];
        for (int i = 0; i < images.length; i++) {
            for (int j = 0; j < normalizedTargets.length; j++) {
                double dot = 0;
                for (int d = 0; d < p; d++) {
                    dot += (double) images[i][d] * normalizedTargets[j][d];
                }
                out[i][j] = (float) dot;
            }
        }
        return out;
    }

    /** torch.nn.functional.normalize(x, p=2, dim=1): x / max(‖x‖₂, 1e-12), in float32. */
    static float[][] normalizeRows(FloatTensor t) {
        int rows = t.dim(0);
        int cols = t.dim(1);
        float[] d = t.data();
        float[][] out = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            double sq = 0;
            for (int c = 0; c < cols; c++) {
                double v = d[r * cols + c];
                sq += v * v;
            }
            float norm = (float) Math.max(Math.sqrt(sq), NORMALIZE_EPS);
            for (int c = 0; c < cols; c++) {
                out[r][c] = d[r * cols + c] / norm;
            }
        }
        return out;
    }
}
