package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.hub.DownloadListener;
import org.cyclediffusion.core.model.ModelResolver;
import org.cyclediffusion.core.model.ModelSpec;
import org.cyclediffusion.core.spi.PredictionType;
import picocli.CommandLine.Option;

/** Where the model comes from: the {@code --model} forms and the flags that refine them, shared by every command that loads one. */
final class ModelSource {
    @Option(names = "--model", required = true, paramLabel = "MODEL", description = {
        "The model: a diffusers folder or optimum ONNX export (DIR); a single-file checkpoint in the original SD 1.x/2.x layout"
            + " (FILE.safetensors, as A1111/ComfyUI/Civitai use); or a Hugging Face hub id (ORG/NAME, ORG/NAME@REVISION), read from"
            + " the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub) and downloaded once when missing."
            + " An existing path always wins over a hub id."})
    String model;

    @Option(names = "--revision", paramLabel = "REV", description = "Hub branch, tag or commit (default: main).")
    String revision;

    @Option(names = "--offline", description = "Never touch the network (as HF_HUB_OFFLINE=1): hub ids from the cache only.")
    boolean offline;

    @Option(names = "--config", paramLabel = "DIR", description = "For a single file: the diffusers folder whose configs, tokenizer,"
            + " scheduler and safety checker to use (needed for non-standard sizes).")
    Path config;

    @Option(names = "--variant", paramLabel = "NAME", description = "Weights variant, e.g. fp16 (diffusion_pytorch_model.fp16.safetensors).")
    String variant;

    @Option(names = "--ema", description = "For a single file: use its EMA UNet weights (model_ema.*).")
    boolean ema;

    @Option(names = "--prediction-type", paramLabel = "TYPE", description = "epsilon, v_prediction or sample: what the UNet predicts"
            + " (SD 2.x single files: 768 models v_prediction, 512-base epsilon).")
    String predictionType;

    ModelSpec spec() {
        PredictionType p = null;
        if (predictionType != null) {
            try {
                p = PredictionType.parse(predictionType);
            } catch (IllegalArgumentException e) {
                throw new Errors.UsageException("--prediction-type: " + e.getMessage());
            }
        }
        return new ModelSpec(model, revision, offline, config, variant, ema, p);
    }

    /** Resolves (and downloads, with progress on {@code err} unless {@code quiet}) the model. */
    ModelFolder resolve(String backend, boolean safetyChecker, PrintWriter err, boolean quiet) {
        return resolver(err, quiet).resolve(spec(), backend, safetyChecker);
    }

    /**
     * Resolves a second model (model B of unpaired translation: {@code --target-model}, a batch row's
     * {@code target_model}) in any form {@code --model} takes, with this source's {@code --offline}.
     * The other refinements are {@code --model}'s own; a single file of B takes its configs from
     * {@code config} (null: from the checkpoint's standard layout).
     *
     * @param flag how the user named it, for messages
     */
    ModelFolder resolveTarget(String target, Path config, String flag, String backend, boolean safetyChecker, PrintWriter err,
            boolean quiet) {
        try {
            return resolver(err, quiet).resolve(new ModelSpec(target, null, offline, config, null, false, null), backend, safetyChecker);
        } catch (ConfigException e) {
            // The resolver speaks of --model; this is the other one.
            String m = e.getMessage() == null ? "" : e.getMessage().replace("--model " + target, flag + " " + target);
            throw m.equals(e.getMessage()) ? e : new ConfigException(m, e);
        }
    }

    /** As {@link #resolve}, fetching from the hub only what the tokenizer needs. */
    ModelFolder resolveForTokenizer(PrintWriter err) {
        return resolver(err, false).resolveForTokenizer(spec());
    }

    private static ModelResolver resolver(PrintWriter err, boolean quiet) {
        DownloadListener progress = quiet ? DownloadListener.NONE : new DownloadProgress(err, System.console() != null);
        return new ModelResolver(System.getenv(), progress);
    }
}
