package org.cyclediffusion.safety;

import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.io.TensorSource;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyChecker;
import org.cyclediffusion.core.spi.SafetyCheckerProvider;
import org.cyclediffusion.core.spi.SafetyClassifier;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.spi.SafetyModel;

/**
 * The checker policy, fail-closed. As in diffusers, the checker is on exactly when
 * {@code model_index.json} declares a {@code safety_checker} (anything but {@code [null, null]} or
 * no entry). A folder that declares one must be able to run it: when its files are missing, the
 * feature extractor is missing, or the backend cannot run the model, loading fails with a message
 * that says how to get a checker or how to turn checking off — the checker is never skipped
 * silently. Turning it off is the caller's decision ({@code --no-safety-checker} or the edit
 * request's option), made before this provider is asked.
 */
public final class SafetyCheckerFactory implements SafetyCheckerProvider {
    static final String COMPONENT = "safety_checker";
    static final String TORCH_WEIGHTS = "model.safetensors";
    static final String ONNX_MODEL = "model.onnx";
    /** diffusers' class names for the two stored forms of the checker. */
    static final String TORCH_CLASS = "StableDiffusionSafetyChecker";
    static final String ONNX_CLASS = "OnnxRuntimeModel";

    static final String HOW_TO_TURN_OFF = "To run without the safety checker, pass --no-safety-checker (or turn the safety"
            + " checker off in the edit request); the images are then not checked.";

    public SafetyCheckerFactory() {
        // Cheap: discovery constructs this; all work happens in create().
    }

    @Override
    public Optional<SafetyChecker> create(ModelFolder folder, Models models) {
        Optional<List<String>> declared = folder.declared(COMPONENT);
        if (declared.isEmpty()) {
            return Optional.empty();
        }
        String library = declared.get().get(0);
        String className = declared.get().get(1);
        String declaration = "model_index.json declares safety_checker [\"" + library + "\", \"" + className + "\"]";
        if (!className.equals(TORCH_CLASS) && !className.equals(ONNX_CLASS)) {
            throw fail(folder, declaration + ", a class this build cannot run (expected " + TORCH_CLASS + " with "
                    + COMPONENT + "/" + TORCH_WEIGHTS + ", or " + ONNX_CLASS + " with " + COMPONENT + "/" + ONNX_MODEL + ")");
        }
        boolean hasTorch = folder.hasWeights(COMPONENT, TORCH_WEIGHTS); // or its variant (model.fp16.safetensors)
        boolean hasOnnx = folder.hasFile(COMPONENT, ONNX_MODEL);
        if (!hasTorch && !hasOnnx) {
            throw fail(folder, declaration + " but " + folder.component(COMPONENT) + " has neither " + TORCH_WEIGHTS + " nor "
                    + ONNX_MODEL + missingFilesHint(folder));
        }
        if (!folder.hasFile("feature_extractor", "preprocessor_config.json")) {
            // diffusers: "Make sure to define a feature extractor ... if you want to use the safety checker."
            throw fail(folder, declaration + " but " + folder.component("feature_extractor").resolve("preprocessor_config.json")
                    + " is missing; the checker needs the CLIPImageProcessor configuration. Copy feature_extractor/ from the"
                    + " checkpoint the model came from");
        }
        Optional<SafetyModel> model;
        try {
            model = models.safetyModel();
        } catch (InvalidInputException e) {
            // The backend found the checker's files incomplete or malformed (e.g. no config.json
            // beside model.safetensors): still fail-closed, with the way out.
            throw fail(folder, declaration + " but the backend (" + models.description() + ") cannot load "
                    + folder.component(COMPONENT) + ": " + e.getMessage() + ". Copy the complete " + COMPONENT
                    + "/ from the checkpoint the model came from", e);
        }
        if (model.isEmpty()) {
            throw fail(folder, declaration + " and " + folder.component(COMPONENT) + " holds " + (hasTorch ? TORCH_WEIGHTS : ONNX_MODEL)
                    + ", but the backend (" + models.description() + ") cannot run it. The libtorch backend runs "
                    + COMPONENT + "/" + TORCH_WEIGHTS + ", the onnx backend " + COMPONENT + "/" + ONNX_MODEL
                    + "; choose a backend that can, or add the file it needs");
        }
        ClipImageProcessor featureExtractor = ClipImageProcessor.fromFolder(folder);
        if (model.get() instanceof SafetyEmbedder embedder) {
            if (!hasTorch) {
                throw fail(folder, "the backend (" + models.description() + ") computes safety embeddings, but the concept"
                        + " embeddings and thresholds live in " + COMPONENT + "/" + TORCH_WEIGHTS + ", which is missing");
            }
            SafetyConcepts concepts;
            try (TensorSource weights = folder.weights(COMPONENT, TORCH_WEIGHTS)) { // the file, its variant, or shards
                concepts = SafetyConcepts.load(weights);
            }
            return Optional.of(StableDiffusionSafetyChecker.withEmbedder(featureExtractor, embedder, concepts));
        }
        return Optional.of(StableDiffusionSafetyChecker.withClassifier(featureExtractor, (SafetyClassifier) model.get()));
    }

    /** Extra advice when the folder looks like an optimum ONNX export, which never includes the checker. */
    private static String missingFilesHint(ModelFolder folder) {
        String get = ". Copy safety_checker/ (config.json and model.safetensors) from the original diffusers checkpoint,"
                + " e.g. runwayml/stable-diffusion-v1-5 or CompVis/stable-diffusion-safety-checker";
        if (folder.hasFile("unet", "model.onnx")) {
            return get + "; optimum's ONNX export does not include the checker: export it with diffusers'"
                    + " scripts/convert_stable_diffusion_checkpoint_to_onnx.py, which writes safety_checker/model.onnx";
        }
        return get;
    }

    private static ConfigException fail(ModelFolder folder, String what) {
        return new ConfigException(folder + ": safety checking is on because " + what + ". " + HOW_TO_TURN_OFF);
    }

    private static ConfigException fail(ModelFolder folder, String what, Throwable cause) {
        return new ConfigException(folder + ": safety checking is on because " + what + ". " + HOW_TO_TURN_OFF, cause);
    }
}
