package org.cyclediffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.config.ModelFolder;
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

    @Mixin
    OutputOptions outputOptions;

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Interrupts interrupts = Interrupts.get();
        interrupts.begin();
        try (Progress progress = Progress.create(quiet, err)) {
            // Before anything loads, as edit: the output (format, folder, never the code), then the code.
            if (!Files.isRegularFile(codeFile)) {
                throw new Errors.UsageException("--code " + codeFile + ": no such file");
            }
            LatentCode code = LatentCode.load(codeFile);
            OutputTarget target = outputOptions.plan(code.rows() * code.numImagesPerPrompt(), List.of(codeFile), "code");
            DecodeRequest built = DecodeRequest.builder().prompts(prompts).guidanceScale(guidanceScale).clipSkip(clipSkip)
                    .outputType(target.format() == OutputTarget.Format.NPY ? OutputType.NP : OutputType.PIL)
                    .listener(EditCommand.listener(progress, err, interrupts)).build();
            PipelineLoader.Options requested = ModelOptions.oneShot(model.options(scheduler != null ? scheduler : code.scheduler(), !noSafetyChecker));
            ModelFolder folder = model.resolve(requested, err);
            PipelineLoader.Options options = model.withAutoDType(requested, folder, err);
            interrupts.phase("loading the model");
            try (CycleDiffusionPipeline pipeline = new PipelineLoader().load(folder, options)) {
                interrupts.check();
                EditResult result = pipeline.decode(code, built);
                interrupts.phase("writing");
                target.write(result, provenance(code, built, pipeline.models().description()), interrupts);
                EditCommand.warnNsfw(result, progress, err);
                target.paths().forEach(out::println);
            }
            return Main.OK;
        } finally {
            interrupts.end();
        }
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
