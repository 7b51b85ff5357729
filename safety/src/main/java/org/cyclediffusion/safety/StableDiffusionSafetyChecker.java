package org.cyclediffusion.safety;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.spi.SafetyChecker;
import org.cyclediffusion.core.spi.SafetyClassifier;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.spi.SafetyModel;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Stable Diffusion's safety checker as diffusers v0.23.0 runs it after the VAE decode
 * ({@code run_safety_checker}): the decoded images rendered to 8-bit ({@code postprocess(…, "pil")}),
 * {@code CLIPImageProcessor}, then the network half a backend offers:
 * <ul>
 *   <li>a {@link SafetyEmbedder} (CLIP vision + projection) — the whole batch in one call, scored
 *       here exactly like {@code StableDiffusionSafetyChecker.forward} (scores rounded to 3 decimals);</li>
 *   <li>a {@link SafetyClassifier} (an exported {@code forward_onnx}) — one call per image at batch 1,
 *       as diffusers' ONNX pipeline does, with {@code images = clip(decoded / 2 + 0.5, 0, 1)} in NHWC;
 *       that graph does not round its scores and returns only flags.</li>
 * </ul>
 * The verdicts only report: blacking out flagged images and the warning are the pipeline's job.
 *
 * <p>The network belongs to the backend's {@code Models}, which closes it; {@link #close()} here
 * releases nothing.
 */
public final class StableDiffusionSafetyChecker implements SafetyChecker {
    private final ClipImageProcessor featureExtractor;
    private final SafetyModel model;
    private final SafetyScoring scoring;

    private StableDiffusionSafetyChecker(ClipImageProcessor featureExtractor, SafetyModel model, SafetyScoring scoring) {
        this.featureExtractor = Objects.requireNonNull(featureExtractor, "featureExtractor");
        this.model = Objects.requireNonNull(model, "model");
        this.scoring = scoring;
    }

    /** Embeddings from the backend, concept scores in Java. */
    public static StableDiffusionSafetyChecker withEmbedder(ClipImageProcessor featureExtractor, SafetyEmbedder embedder,
                                                            SafetyConcepts concepts) {
        return new StableDiffusionSafetyChecker(featureExtractor, embedder, new SafetyScoring(Objects.requireNonNull(concepts, "concepts")));
    }

    /** The whole exported checker in the backend; flags only. */
    public static StableDiffusionSafetyChecker withClassifier(ClipImageProcessor featureExtractor, SafetyClassifier classifier) {
        return new StableDiffusionSafetyChecker(featureExtractor, classifier, null);
    }

    /** {@code feature_extractor(postprocess(decoded, "pil")).pixel_values}: the CLIP input {@code [B, 3, 224, 224]}. */
    public FloatTensor clipInput(FloatTensor decoded) {
        List<RgbImage> pil = DecodedImages.toPil(decoded);
        return featureExtractor.preprocess(pil);
    }

    @Override
    public List<SafetyVerdict> check(FloatTensor decoded) {
        FloatTensor pixelValues = clipInput(decoded);
        int batch = decoded.dim(0);
        if (model instanceof SafetyEmbedder embedder) {
            FloatTensor embeds = embedder.imageEmbeds(pixelValues);
            if (embeds.rank() != 2 || embeds.dim(0) != batch) {
                throw new CycleDiffusionException("safety embedder returned " + embeds + " for " + batch
                        + " images; expected [" + batch + ", " + scoring.concepts().projectionDim() + "]");
            }
            return scoring.score(embeds);
        }
        SafetyClassifier classifier = (SafetyClassifier) model;
        List<SafetyVerdict> out = new ArrayList<>(batch);
        for (int i = 0; i < batch; i++) {
            boolean[] flags = classifier.flags(pixelValues.row(i), DecodedImages.toUnitNhwc(decoded, i));
            if (flags.length != 1) {
                throw new CycleDiffusionException("safety classifier returned " + flags.length + " flags for one image; expected 1");
            }
            out.add(SafetyVerdict.flagOnly(flags[0]));
        }
        return out;
    }

    @Override
    public void close() {
        // The SafetyModel is owned and closed by the backend's Models.
    }

    @Override
    public String toString() {
        return "StableDiffusionSafetyChecker[" + (scoring != null ? "embedder + Java scoring" : "classifier") + ", " + featureExtractor + "]";
    }
}
