package org.cyclediffusion.core.model;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.cyclediffusion.core.checkpoint.CheckpointFolders;
import org.cyclediffusion.core.checkpoint.SingleFileCheckpoint;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.hub.DownloadListener;
import org.cyclediffusion.core.hub.HubId;
import org.cyclediffusion.core.hub.HubModels;

/**
 * Turns a {@link ModelSpec} into a {@link ModelFolder}: a path that exists always wins (a folder,
 * or a single file); otherwise {@code ORG/NAME[@REV]} is a hub id, resolved in the Hugging Face
 * cache and downloaded when missing and online. Flags that do not apply to the form given are
 * errors, not silently ignored.
 */
public final class ModelResolver {
    /** The forms {@code --model} takes, for help texts and messages. */
    public static final String FORMS = "a diffusers folder or ONNX export (DIR), a single-file checkpoint (FILE.safetensors, original"
            + " SD 1.x/2.x layout), or a Hugging Face hub id (ORG/NAME or ORG/NAME@REVISION)";

    private final Map<String, String> env;
    private final DownloadListener listener;

    public ModelResolver(Map<String, String> env, DownloadListener listener) {
        this.env = env;
        this.listener = listener;
    }

    public ModelResolver() {
        this(System.getenv(), DownloadListener.NONE);
    }

    /**
     * @param backend       the backend asked for (decides which weights a hub download fetches), or null
     * @param safetyChecker false: a hub download skips the checker's weights
     */
    public ModelFolder resolve(ModelSpec spec, String backend, boolean safetyChecker) {
        return resolve(spec, backend, safetyChecker, true);
    }

    /** As {@link #resolve}, but a hub download fetches only what the tokenizer needs (no weights). */
    public ModelFolder resolveForTokenizer(ModelSpec spec) {
        return resolve(spec, null, false, false);
    }

    private ModelFolder resolve(ModelSpec spec, String backend, boolean safetyChecker, boolean weights) {
        Optional<Path> local = existing(spec.model());
        ModelFolder folder;
        if (local.isPresent() && Files.isRegularFile(local.get())) {
            notFor(spec.variant() != null, "--variant", spec, "diffusers folders and hub ids");
            notFor(spec.revision() != null, "--revision", spec, "hub ids");
            return CheckpointFolders.open(local.get(), spec.config(), spec.ema(), spec.predictionType());
        }
        notFor(spec.config() != null, "--config", spec, "single-file checkpoints");
        notFor(spec.ema(), "--ema", spec, "single-file checkpoints");
        if (local.isPresent()) {
            notFor(spec.revision() != null, "--revision", spec, "hub ids");
            folder = ModelFolder.open(local.get());
        } else {
            Optional<HubId> id = HubId.parse(spec.model(), spec.revision());
            if (id.isEmpty()) {
                if (spec.model().toLowerCase(java.util.Locale.ROOT).matches(".*\\.(safetensors|ckpt|bin|pt|pth)$")) {
                    SingleFileCheckpoint.refusePickle(Path.of(spec.model()));
                    throw new ConfigException(spec.model() + ": file not found");
                }
                throw new ConfigException("--model " + spec.model() + ": no such folder or file, and not a hub id; expected " + FORMS);
            }
            folder = ModelFolder.open(HubModels.fromEnvironment(env, spec.offline(), listener)
                    .snapshot(id.get(), backend, spec.variant(), safetyChecker, weights));
        }
        if (weights && spec.variant() != null && !folder.variantsPresent().contains(spec.variant())) {
            throw new ConfigException("--variant " + spec.variant() + ": " + folder + " has no *." + spec.variant() + ".safetensors weights"
                    + (folder.variantsPresent().isEmpty() ? " (no variant files at all: drop --variant)" : " (variants there: "
                            + folder.variantsPresent() + ")"));
        }
        folder = folder.withVariant(spec.variant());
        return spec.predictionType() != null ? folder.withPredictionType(spec.predictionType()) : folder;
    }

    private static Optional<Path> existing(String model) {
        try {
            Path p = Path.of(model);
            return Files.exists(p) ? Optional.of(p) : Optional.empty();
        } catch (InvalidPathException e) {
            return Optional.empty();
        }
    }

    private static void notFor(boolean given, String flag, ModelSpec spec, String appliesTo) {
        if (given) {
            throw new ConfigException(flag + " applies to " + appliesTo + ", not to --model " + spec.model());
        }
    }
}
