package org.cyclediffusion.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EncodeRequest;
import org.cyclediffusion.core.pipeline.LatentCode;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code cyclediffusion encode}: the DPM-Encoder alone; images to their latent code, a .safetensors
 * file. It takes edit's source-half flags ({@link EncodeOptions}), loads no safety checker (a code
 * holds no image; {@link PipelineLoader#loadEncoder}) and stops on an interrupt as edit does
 * ({@link Interrupts}): the code file appears complete or not at all.
 */
@Command(name = "encode", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Encode images into their DPM-Encoder latent code (start latents and the noise of every step), to decode later under any prompt.")
final class EncodeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions model;

    /** The source half, as edit takes it: --image, --source-prompt, --strength, --steps, ..., --seed, --scheduler. */
    @Mixin
    EncodeOptions sourceHalf;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The code, a .safetensors file (written atomically).")
    Path output;

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Interrupts interrupts = Interrupts.get();
        interrupts.begin();
        try (Progress progress = Progress.create(quiet, err)) {
            List<RgbImage> inputs = new ArrayList<>();
            for (Path p : sourceHalf.images) {
                inputs.add(ImageFiles.read(p));
                if (Files.exists(output) && Files.isSameFile(output, p)) {
                    throw new Errors.UsageException("--output " + output + " is the input image " + p + "; choose another file");
                }
            }
            Path parent = output.toAbsolutePath().getParent();
            if (parent != null && !Files.isDirectory(parent)) {
                throw new Errors.UsageException("--output " + output + ": directory " + parent + " does not exist");
            }
            EncodeRequest request = EncodeRequest.builder().images(inputs).sourcePrompts(sourceHalf.sourcePrompts).strength(sourceHalf.strength)
                    .numInferenceSteps(sourceHalf.steps).sourceGuidanceScale(sourceHalf.sourceGuidanceScale)
                    .numImagesPerPrompt(sourceHalf.numImages).eta(sourceHalf.eta).seed(sourceHalf.seed()).clipSkip(sourceHalf.clipSkip)
                    .listener(EditCommand.listener(progress, err, interrupts)).build();
            // A code holds no image, so the safety checker is neither fetched nor loaded (nor warned about).
            PipelineLoader.Options requested = ModelOptions.oneShot(model.options(sourceHalf.scheduler, false));
            ModelFolder folder = model.resolve(requested, err);
            sourceHalf.printDrawnSeed(err, quiet);
            PipelineLoader.Options options = model.withAutoDType(requested, folder, err);
            interrupts.phase("loading the model");
            progress.phase("loading model " + model.source.model);
            interrupts.pause();
            try (CycleDiffusionPipeline pipeline = new PipelineLoader().loadEncoder(folder, options)) {
                interrupts.check();
                LatentCode code = pipeline.encode(request);
                interrupts.phase("writing");
                progress.phase("writing " + output);
                interrupts.pause();
                ObjectNode parameters = code.parameters();
                ArrayNode names = parameters.putArray("images");
                sourceHalf.images.forEach(p -> names.add(p.toString()));
                parameters.put("backend", pipeline.models().description());
                // as the user named it: decode's provenance names it as the source model when it decodes on another
                parameters.put("model", model.source.model);
                LatentCode described = new LatentCode(code.scheduler(), code.noiseSchedule(), code.schedulerConfig(), code.timesteps(),
                        code.numInferenceSteps(), code.strength(), code.eta(), code.startLatents(), code.noises(), code.imageHeight(),
                        code.imageWidth(), code.rows(), code.numImagesPerPrompt(), code.vaeScalingFactor(), code.model(), parameters);
                OutputTarget.writeStaged(output, described::save, interrupts);
            }
            out.println(output);
            return Main.OK;
        } finally {
            interrupts.end();
        }
    }
}
