package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.PilResample;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.memory.MemoryEstimate;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditPreflight;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.spi.ProgressListener;
import org.cyclediffusion.core.tensor.FloatTensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cyclediffusion edit}: every flag maps to one parameter of an edit request.
 *
 * <p>Everything that can be known before the model loads is checked first, in milliseconds: the
 * output (format, folder, never an input), the model folder, the images, every request parameter
 * against the model's configs, and the memory the edit will need. Then the model loads and the
 * edit runs with its progress on stderr, interruptible at any moment ({@link Interrupts}).
 */
@Command(name = "edit", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Edit images: describe what the input shows (--source-prompt) and what it should show (--prompt).")
final class EditCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    // --- what to edit -------------------------------------------------------------------------

    /** --model in every form, --backend, --device, --dtype, --verbose. */
    @CommandLine.Mixin
    ModelOptions modelOptions;

    /** The source half, as encode takes it: --image, --source-prompt, --strength, --steps, ..., --seed, --scheduler. */
    @CommandLine.Mixin
    EncodeOptions sourceHalf;

    // --- the target half ----------------------------------------------------------------------

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "What the edited image should show; repeat for a batch.")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--guidance-scale", defaultValue = "7.5", description = "Guidance of the target prompt; > 1 turns it on (default: ${DEFAULT-VALUE}).")
    double guidanceScale;

    @Option(names = "--source-guided", arity = "1", paramLabel = "true|false",
            description = "Whether the source chain runs its unconditional UNet rows. Default: when --guidance-scale > 1 and"
                + " --source-guidance-scale is not 1; at 1 they change only rounding (u + 1·(c − u) = c), so a step runs 3 rows per image"
                + " instead of diffusers' 4. true: diffusers' rows and rounding, bit for bit; false: the source chain unguided at any scale.")
    Boolean sourceGuided;

    @Option(names = "--target-model", paramLabel = "MODEL",
            description = "Unpaired translation: run the target chain on this model (its text encoder, UNet and safety checker); --model runs the"
                    + " source chain and its VAE. Any form --model takes (DIR, FILE.safetensors, ORG/NAME[@REV]).")
    String targetModel;

    @Option(names = "--target-config", paramLabel = "DIR", description = "For a single-file --target-model: the diffusers folder whose configs,"
            + " tokenizer, scheduler and safety checker to use (as --config for --model).")
    Path targetConfig;

    @Option(names = "--no-safety-checker", description = "Do not run the model's safety checker (a warning is printed).")
    boolean noSafetyChecker;

    // --- memory -------------------------------------------------------------------------------

    @Option(names = "--max-pixels", paramLabel = "N",
            description = "Shrink the inputs (keeping their shape) to at most N pixels before the edit, e.g. 1048576 for 1024x1024.")
    Long maxPixels;

    @Option(names = "--max-memory", paramLabel = "SIZE",
            description = "Memory the edit may use, e.g. 8g (default: what the system has available); larger edits are refused up front.")
    String maxMemory;

    @Option(names = "--attention-slicing", paramLabel = "auto|max|N|off", defaultValue = "off",
            description = "Compute the UNet's attention a few heads and query rows at a time (diffusers' enable_attention_slicing):"
                    + " less memory for large images, the same results; auto = half the heads, max = one, N = N heads (default: off).")
    String attentionSlicing;

    // --- output -------------------------------------------------------------------------------

    @Option(names = "--vae-tiling", description = "Encode and decode images larger than the VAE's sample size in overlapping tiles"
            + " (diffusers' enable_vae_tiling): far less memory for large images, small differences near the seams.")
    boolean vaeTiling;

    @CommandLine.Mixin
    OutputOptions outputOptions;

    @Option(names = "--json", description = "Print one JSON object with outputs, nsfw flags, parameters and timings on stdout.")
    boolean json;

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;


    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Interrupts interrupts = Interrupts.get();
        interrupts.begin();
        try (Progress progress = Progress.create(quiet, err)) {
            // 1. Before anything loads: flags, output, model folder, images, request, memory.
            Device dev = modelOptions.device();
            DType requestedDType = modelOptions.dtype();
            int rows = Math.max(prompts.size(), Math.max(sourceHalf.sourcePrompts.size(), sourceHalf.images.size()));
            OutputTarget target = outputOptions.plan(rows * Math.max(1, sourceHalf.numImages), sourceHalf.images, "input image");
            ModelFolder folder = modelOptions.source.resolve(modelOptions.backend, !noSafetyChecker, err, quiet);
            PipelineLoader loader = new PipelineLoader(Registry.discover());
            PipelineLoader.Options options = ModelOptions.oneShot(new PipelineLoader.Options(folder.root(), modelOptions.backend, dev, requestedDType,
                    !noSafetyChecker, null, sourceHalf.scheduler));
            BackendProvider provider = loader.backend(folder, options);
            DType dt = requestedDType != null ? requestedDType : provider.defaultDType(folder, dev);
            List<RgbImage> inputs = readImages(err, progress);
            EditRequest.Builder request = EditRequest.builder().prompts(prompts).sourcePrompts(sourceHalf.sourcePrompts).images(inputs)
                    .strength(sourceHalf.strength).numInferenceSteps(sourceHalf.steps).guidanceScale(guidanceScale)
                    .sourceGuidanceScale(sourceHalf.sourceGuidanceScale).sourceGuided(sourceGuided).numImagesPerPrompt(sourceHalf.numImages)
                    .eta(sourceHalf.eta).seed(sourceHalf.seed()).clipSkip(sourceHalf.clipSkip).outputType(target.format() == OutputTarget.Format.NPY ? OutputType.NP : OutputType.PIL)
                    .listener(listener(progress, err, interrupts));
            EditRequest built = request.build();
            if (targetConfig != null && targetModel == null) {
                throw new Errors.UsageException("--target-config " + targetConfig + ": applies to a single-file --target-model, and none was given");
            }
            ModelFolder targetFolder = targetModel == null ? null
                    : modelOptions.source.resolveTarget(targetModel, targetConfig, "--target-model", provider.name(), !noSafetyChecker, err, quiet);
            EditPreflight.check(folder, targetFolder, loader.registry().scheduler(sourceHalf.scheduler,
                    folder.config("scheduler", "scheduler_config.json").quietCopy()), built);
            if (modelOptions.autoDType()) { // measured after every check that needs no model, before the estimate that needs the dtype
                dt = modelOptions.autoDType(provider, folder, dev, err);
                options = options.withDType(dt);
            }
            AttentionSlicing slicing = attentionSlicing();
            checkMemory(folder, provider, dt, inputs, rows * sourceHalf.numImages, slicing);
            sourceHalf.printDrawnSeed(err, quiet);

            // 2. Load, edit, write.
            interrupts.phase("loading the model");
            progress.phase("loading model " + modelOptions.source.model + " (" + provider.name() + ", " + dev + ", " + dt.shortName() + ")");
            interrupts.pause();
            try (CycleDiffusionPipeline pipeline = loader.load(folder, targetFolder, options.withBackend(provider.name()))) {
                interrupts.check();
                String description = pipeline.models().description();
                if (vaeTiling && !pipeline.models().vae().setTiling(true)) {
                    progress.warn(err, "--vae-tiling: the " + description + " VAE cannot tile; it runs untiled");
                }
                if (!slicing.isOff() && !pipeline.models().unet().setAttentionSlicing(slicing)) {
                    progress.warn(err, "--attention-slicing: the " + description + " UNet cannot slice attention; it runs unsliced");
                }
                EditResult result = pipeline.edit(built);
                interrupts.phase("writing");
                progress.phase("writing " + target.description());
                interrupts.pause();
                EditProvenance provenance = new EditProvenance("cyclediffusion " + Versions.version(), modelOptions.source.model, targetModel,
                        description, sourceHalf.images.stream().map(Path::toString).toList(), built, sourceHalf.seed(),
                        !noSafetyChecker);
                target.write(result, provenance, interrupts);
                warnNsfw(result, progress, err);
                if (json) {
                    out.println(JsonReport.of(result, target, provenance));
                } else {
                    target.paths().forEach(out::println);
                }
            }
            return Main.OK;
        } finally {
            interrupts.end();
        }
    }

    private List<RgbImage> readImages(PrintWriter err, Progress progress) {
        List<RgbImage> inputs = new ArrayList<>();
        for (Path p : sourceHalf.images) {
            inputs.add(ImageFiles.read(p));
        }
        if (maxPixels == null) {
            return inputs;
        }
        if (maxPixels < 64 * 64) {
            throw new Errors.UsageException("--max-pixels " + maxPixels + ": expected at least 4096 (64x64)");
        }
        // diffusers resizes every image of a batch to the first one's size; shrink that size.
        RgbImage first = inputs.get(0);
        long pixels = (long) first.width() * first.height();
        if (pixels <= maxPixels) {
            return inputs;
        }
        double s = Math.sqrt((double) maxPixels / pixels);
        int w = Math.max(8, (int) (first.width() * s) / 8 * 8);
        int h = Math.max(8, (int) (first.height() * s) / 8 * 8);
        progress.warn(err, "resized the input from " + first.sizeString() + " to " + w + "x" + h + " (--max-pixels " + maxPixels + ")");
        List<RgbImage> resized = new ArrayList<>();
        for (RgbImage im : inputs) {
            resized.add(PilResample.resize(im, w, h, PilResample.Filter.LANCZOS));
        }
        return resized;
    }

    private AttentionSlicing attentionSlicing() {
        try {
            return AttentionSlicing.parse(attentionSlicing, "--attention-slicing");
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage());
        }
    }

    private void checkMemory(ModelFolder folder, BackendProvider provider, DType dt, List<RgbImage> inputs, int outputs,
            AttentionSlicing slicing) {
        RgbImage first = inputs.get(0);
        MemoryEstimate.ModelShape shape = MemoryEstimate.ModelShape.of(folder);
        int w = first.width() - first.width() % shape.vaeScaleFactor();
        int h = first.height() - first.height() % shape.vaeScaleFactor();
        // Every backend is taken to materialise attention scores: ONNX Runtime's exported graphs do,
        // and LibTorch's scaled_dot_product_attention on CPU did too where it counts (tiny-sd at
        // 4000x4000 on LibTorch reached 22.7 GB RSS in the VAE and was killed by the kernel).
        boolean naive = true;
        // Slicing lowers the estimate only where the backend will slice (an ONNX graph cannot).
        AttentionSlicing counted = provider.supportsAttentionSlicing() ? slicing : AttentionSlicing.OFF;
        long budget = maxMemory != null ? MemoryCheck.parseSize(maxMemory) : MemoryCheck.available();
        MemoryCheck.check(shape, new MemoryCheck.Request(w, h, inputs.size(), outputs, guidanceScale > 1, dt, naive, counted), budget,
                maxMemory != null ? "is the --max-memory limit" : "is available");
    }

    /** Progress on stderr and the interrupt's safe points: every phase and step; shared with encode. */
    static ProgressListener listener(Progress progress, PrintWriter err, Interrupts interrupts) {
        return new ProgressListener() {
            @Override
            public boolean onStep(int step, int totalSteps, int timestep, FloatTensor latents) {
                interrupts.phase("step " + (step + 1) + "/" + totalSteps);
                progress.step(step, totalSteps, timestep);
                return !interrupts.cancelled();
            }

            @Override
            public boolean onPhase(EditPhase phase) {
                interrupts.phase(phase.description());
                progress.phase(phase.description());
                interrupts.pause();
                return !interrupts.cancelled();
            }

            @Override
            public void onWarning(String message) {
                progress.warn(err, message);
            }
        };
    }

    static void warnNsfw(EditResult result, Progress progress, PrintWriter err) {
        boolean[] nsfw = result.nsfwContentDetected().orElse(null);
        for (int i = 0; nsfw != null && i < nsfw.length; i++) {
            if (nsfw[i]) {
                progress.warn(err, "potential NSFW content was detected in image " + i + " and it was replaced by a black image;"
                        + " try another seed or prompt");
            }
        }
    }
}
