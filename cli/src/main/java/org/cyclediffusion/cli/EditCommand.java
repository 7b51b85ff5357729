package org.cyclediffusion.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.io.NpyWriter;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.SafetyVerdict;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cyclediffusion edit}: every flag maps to one parameter of an edit request. */
@Command(name = "edit", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Edit images: describe what the input shows (--source-prompt) and what it should show (--prompt).")
final class EditCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    ModelSource modelOptions;

    @Option(names = "--image", required = true, paramLabel = "FILE", description = "Input image (PNG or JPEG); repeat for a batch.")
    List<Path> images = new ArrayList<>();

    @Option(names = "--source-prompt", required = true, paramLabel = "TEXT", description = "What the input image shows; repeat for a batch.")
    List<String> sourcePrompts = new ArrayList<>();

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "What the edited image should show; repeat for a batch.")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--backend", paramLabel = "NAME", description = "onnx or libtorch (default: chosen by the folder's files).")
    String backend;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEV", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--dtype", paramLabel = "T", description = "fp32, fp16 or bf16 (default: the backend's for the device).")
    String dtype;

    @Option(names = "--strength", defaultValue = "0.8", description = "Fraction of the schedule to run, in [0, 1] (default: ${DEFAULT-VALUE}).")
    double strength;

    @Option(names = {"--steps", "--num-inference-steps"}, defaultValue = "50", description = "Steps of the full schedule (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--guidance-scale", defaultValue = "7.5", description = "Guidance of the target prompt; > 1 turns it on (default: ${DEFAULT-VALUE}).")
    double guidanceScale;

    @Option(names = "--source-guidance-scale", defaultValue = "1", description = "Guidance of the source prompt (default: ${DEFAULT-VALUE}).")
    double sourceGuidanceScale;

    @Option(names = "--eta", defaultValue = "0.1", description = "DDIM stochasticity, > 0 (default: ${DEFAULT-VALUE}).")
    double eta;

    @Option(names = {"--num-images", "--num-images-per-prompt"}, defaultValue = "1", description = "Images per prompt (default: ${DEFAULT-VALUE}).")
    int numImages;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the torch-compatible generator (default: random, printed).")
    Long seed;

    @Option(names = "--clip-skip", paramLabel = "N", description = "CLIP layers to skip.")
    Integer clipSkip;

    @Option(names = "--no-safety-checker", description = "Do not run the model's safety checker (a warning is printed).")
    boolean noSafetyChecker;

    @Option(names = "--target-model", paramLabel = "DIR",
            description = "Unpaired translation: run the target chain on this model (its text encoder, UNet and safety checker); --model runs the source chain and its VAE.")
    Path targetModel;

    @Option(names = "--scheduler", paramLabel = "NAME", description = "Sampler, a registered _class_name (`cyclediffusion schedulers`; default: the model's).")
    String scheduler;

    @Option(names = "--output", required = true, paramLabel = "FILE",
            description = "Output file; several images become NAME-0.png, NAME-1.png, ... in diffusers' order.")
    Path output;

    @Option(names = {"--output-format", "--output-type"}, paramLabel = "FMT",
            description = "png or npy; diffusers' output_type names pil and np mean the same (default: from the --output extension, else png).")
    String outputFormat;

    @Option(names = "--json", description = "Print one JSON object with outputs, nsfw flags, parameters and timings on stdout.")
    boolean json;

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;

    @Option(names = "--verbose", description = "Stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String format = format();
        Device dev = parse(() -> Device.parse(device), "--device");
        DType dt = dtype == null ? null : parse(() -> DType.parse(dtype), "--dtype");
        List<RgbImage> inputs = new ArrayList<>();
        for (Path p : images) {
            inputs.add(ImageFiles.read(p));
        }
        long usedSeed = seed != null ? seed : new SecureRandom().nextLong() & 0xffffffffL;
        if (seed == null && !quiet) {
            err.println("seed: " + usedSeed);
        }
        ModelFolder folder = modelOptions.resolve(backend, !noSafetyChecker, err, quiet);
        PipelineLoader.Options options = new PipelineLoader.Options(folder.root(), backend, dev, dt, !noSafetyChecker, targetModel, scheduler);
        EditRequest.Builder request = EditRequest.builder().prompts(prompts).sourcePrompts(sourcePrompts).images(inputs).strength(strength)
                .numInferenceSteps(steps).guidanceScale(guidanceScale).sourceGuidanceScale(sourceGuidanceScale).numImagesPerPrompt(numImages)
                .eta(eta).seed(usedSeed).clipSkip(clipSkip).outputType(format.equals("npy") ? OutputType.NP : OutputType.PIL);
        if (!quiet) {
            request.listener((i, n, t, latents) -> {
                err.printf(Locale.ROOT, "step %d/%d (t=%d)%n", i + 1, n, t);
                err.flush();
                return true;
            });
        }
        try (CycleDiffusionPipeline pipeline = new PipelineLoader().load(folder, options)) {
            String description = pipeline.models().description();
            EditRequest built = request.build();
            EditResult result = pipeline.edit(built);
            List<Path> written = write(built, result, format, usedSeed, description);
            boolean[] nsfw = result.nsfwContentDetected().orElse(null);
            if (nsfw != null) {
                for (int i = 0; i < nsfw.length; i++) {
                    if (nsfw[i]) {
                        err.println("warning: potential NSFW content was detected in image " + i + " and it was replaced by a black image;"
                                + " try another seed or prompt");
                    }
                }
            }
            if (json) {
                out.println(report(built, result, written, format, usedSeed, description));
            } else {
                for (Path p : written) {
                    out.println(p);
                }
            }
        }
        return Main.OK;
    }

    private String format() {
        String f = outputFormat;
        if (f == null) {
            f = output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npy") ? "npy" : "png";
        }
        return switch (f.toLowerCase(Locale.ROOT)) {
            case "png", "pil" -> "png";
            case "npy", "np" -> "npy";
            default -> throw new Errors.UsageException("--output-format '" + outputFormat + "': expected png or npy (or pil, np)");
        };
    }

    static <T> T parse(java.util.function.Supplier<T> parser, String flag) {
        try {
            return parser.get();
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(flag + ": " + e.getMessage());
        }
    }

    /** NAME.png for one image, NAME-k.png for several; never a path given as an input. */
    static List<Path> outputPaths(Path output, int count, String extension) {
        if (count == 1) {
            return List.of(output);
        }
        String name = output.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        String ext = dot > 0 ? name.substring(dot) : "." + extension;
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(output.resolveSibling(stem + "-" + i + ext));
        }
        return out;
    }

    private List<Path> write(EditRequest request, EditResult result, String format, long usedSeed, String description) throws IOException {
        List<Path> targets = format.equals("npy") ? List.of(output) : outputPaths(output, result.images().size(), "png");
        for (Path t : targets) {
            for (Path in : images) {
                if (Files.exists(t) && Files.isSameFile(t, in)) {
                    throw new Errors.UsageException("--output " + t + " is the input image " + in + "; choose another file");
                }
            }
            Path parent = t.toAbsolutePath().getParent();
            if (parent != null && !Files.isDirectory(parent)) {
                throw new Errors.UsageException("--output " + t + ": directory " + parent + " does not exist");
            }
        }
        if (format.equals("npy")) {
            NpyWriter.write(output, result.imagesNp());
            return targets;
        }
        EditProvenance provenance = provenance(request, usedSeed, description);
        for (int i = 0; i < targets.size(); i++) {
            ImageFiles.writePng(targets.get(i), result.images().get(i), provenance.pngText(i));
        }
        return targets;
    }

    private EditProvenance provenance(EditRequest request, long usedSeed, String description) {
        return new EditProvenance("cyclediffusion " + Versions.version(), modelOptions.model, description,
                images.stream().map(Path::toString).toList(), request, usedSeed, !noSafetyChecker);
    }

    private String report(EditRequest request, EditResult result, List<Path> written, String format, long usedSeed, String description) throws IOException {
        ObjectMapper m = new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = m.createObjectNode();
        ArrayNode outs = root.putArray("outputs");
        int n = format.equals("npy") ? result.imagesNp().dim(0) : result.images().size();
        List<SafetyVerdict> verdicts = result.verdicts().orElse(null);
        for (int i = 0; i < n; i++) {
            ObjectNode o = outs.addObject();
            o.put("path", (format.equals("npy") ? written.get(0) : written.get(i)).toString());
            o.put("index", i);
            if (verdicts == null) {
                o.putNull("nsfw");
            } else {
                o.put("nsfw", verdicts.get(i).nsfw());
            }
        }
        root.put("format", format);
        root.set("parameters", provenance(request, usedSeed, description).parameters());
        ObjectNode t = root.putObject("timings_ms");
        t.put("prompt_encoding", result.timings().promptMillis());
        t.put("image_encoding", result.timings().encodeMillis());
        t.put("steps", result.timings().stepsMillis().length);
        t.put("mean_step", result.timings().meanStepMillis());
        t.put("decoding", result.timings().decodeMillis());
        t.put("safety_checker", result.timings().safetyMillis());
        t.put("total", result.timings().totalMillis());
        return m.writeValueAsString(root);
    }
}
