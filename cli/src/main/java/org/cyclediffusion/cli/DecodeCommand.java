package org.cyclediffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.io.NpyWriter;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.DecodeRequest;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.LatentCode;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code cyclediffusion decode}: a latent code under new prompts, on the model that made it (an
 * edit) or on another one sharing its latent space (unpaired translation). Costs half an edit: the
 * source chain is not run again.
 */
@Command(name = "decode", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Decode a latent code (from `encode`) under target prompts, with the same or another model.")
final class DecodeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--code", required = true, paramLabel = "FILE", description = "A latent code written by `cyclediffusion encode`.")
    Path codeFile;

    @Mixin
    ModelOptions model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "What the image should show; one, or one per code row.")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--guidance-scale", defaultValue = "7.5", description = "Guidance of the target prompt; > 1 turns it on (default: ${DEFAULT-VALUE}).")
    double guidanceScale;

    @Option(names = "--clip-skip", paramLabel = "N", description = "CLIP layers to skip.")
    Integer clipSkip;

    @Option(names = "--scheduler", paramLabel = "NAME",
            description = "Sampler, a registered _class_name (default: the one that made the code, built from the model's scheduler config).")
    String scheduler;

    @Option(names = "--no-safety-checker", description = "Do not run the model's safety checker (a warning is printed).")
    boolean noSafetyChecker;

    @Option(names = "--output", required = true, paramLabel = "FILE",
            description = "Output file; several images become NAME-0.png, NAME-1.png, ... in the code's row order.")
    Path output;

    @Option(names = {"--output-format", "--output-type"}, paramLabel = "FMT", description = "png or npy (default: from the --output extension, else png).")
    String outputFormat;

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String format = format();
        LatentCode code = LatentCode.load(codeFile);
        DecodeRequest.Builder request = DecodeRequest.builder().prompts(prompts).guidanceScale(guidanceScale).clipSkip(clipSkip)
                .outputType(format.equals("npy") ? OutputType.NP : OutputType.PIL);
        if (!quiet) {
            request.listener((i, n, t, latents) -> {
                err.printf(Locale.ROOT, "decode step %d/%d (t=%d)%n", i + 1, n, t);
                err.flush();
                return true;
            });
        }
        PipelineLoader.Options options = model.options(scheduler != null ? scheduler : code.scheduler(), !noSafetyChecker);
        try (CycleDiffusionPipeline pipeline = new PipelineLoader().load(model.resolve(options, spec.commandLine().getErr()), options)) {
            DecodeRequest built = request.build();
            EditResult result = pipeline.decode(code, built);
            List<Path> written = write(code, built, result, format, pipeline.models().description());
            boolean[] nsfw = result.nsfwContentDetected().orElse(null);
            for (int i = 0; nsfw != null && i < nsfw.length; i++) {
                if (nsfw[i]) {
                    err.println("warning: potential NSFW content was detected in image " + i + " and it was replaced by a black image");
                }
            }
            written.forEach(out::println);
        }
        return Main.OK;
    }

    private String format() {
        String f = outputFormat != null ? outputFormat
                : output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npy") ? "npy" : "png";
        return switch (f.toLowerCase(Locale.ROOT)) {
            case "png", "pil" -> "png";
            case "npy", "np" -> "npy";
            default -> throw new Errors.UsageException("--output-format '" + outputFormat + "': expected png or npy (or pil, np)");
        };
    }

    private List<Path> write(LatentCode code, DecodeRequest request, EditResult result, String format, String backend) {
        List<Path> targets = format.equals("npy") ? List.of(output) : OutputTarget.numbered(output, result.images().size(), "png");
        for (Path t : targets) {
            if (t.toAbsolutePath().normalize().equals(codeFile.toAbsolutePath().normalize())) {
                throw new Errors.UsageException("--output " + t + " is the code " + codeFile + "; choose another file");
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
        EditProvenance provenance = provenance(code, request, backend);
        for (int i = 0; i < targets.size(); i++) {
            ImageFiles.writePng(targets.get(i), result.images().get(i), provenance.pngText(i));
        }
        return targets;
    }

    /** The edit this decode completes: the code's encode parameters with the target prompts, in the one provenance format. */
    private EditProvenance provenance(LatentCode code, DecodeRequest request, String backend) {
        ObjectNode p = code.parameters();
        List<String> sources = new ArrayList<>();
        p.path("source_prompts").forEach(n -> sources.add(n.asText()));
        List<String> imageNames = new ArrayList<>();
        p.path("images").forEach(n -> imageNames.add(n.asText()));
        JsonNode seed = p.get("seed");
        EditRequest edit = EditRequest.builder().prompts(request.prompts()).sourcePrompts(sources).strength(code.strength())
                .numInferenceSteps(code.numInferenceSteps()).guidanceScale(request.guidanceScale())
                .sourceGuidanceScale(p.path("source_guidance_scale").asDouble(1)).numImagesPerPrompt(code.numImagesPerPrompt())
                .eta(code.eta()).clipSkip(request.clipSkip()).build();
        // On another model than the one that encoded, this decode completes a two-model edit: the encoder's model is A, --model is B.
        String encoder = p.path("model").asText(null);
        boolean other = encoder != null && !encoder.equals(model.source.model);
        return new EditProvenance("cyclediffusion " + Versions.version(), other ? encoder : model.source.model, other ? model.source.model : null,
                backend + " (code " + codeFile + " from " + code.model() + ")", imageNames, edit, seed == null ? -1 : seed.asLong(), !noSafetyChecker);
    }
}
