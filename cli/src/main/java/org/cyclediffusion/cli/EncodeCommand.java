package org.cyclediffusion.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EncodeRequest;
import org.cyclediffusion.core.pipeline.LatentCode;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code cyclediffusion encode}: the DPM-Encoder alone; images to their latent code, a .safetensors file. */
@Command(name = "encode", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Encode images into their DPM-Encoder latent code (start latents and the noise of every step), to decode later under any prompt.")
final class EncodeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--image", required = true, paramLabel = "FILE", description = "Input image (PNG or JPEG); repeat for a batch.")
    List<Path> images = new ArrayList<>();

    @Option(names = "--source-prompt", required = true, paramLabel = "TEXT", description = "What the input image shows; repeat for a batch.")
    List<String> sourcePrompts = new ArrayList<>();

    @Option(names = "--strength", defaultValue = "0.8", description = "Fraction of the schedule to run, in [0, 1] (default: ${DEFAULT-VALUE}).")
    double strength;

    @Option(names = {"--steps", "--num-inference-steps"}, defaultValue = "50", description = "Steps of the full schedule (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--source-guidance-scale", defaultValue = "1",
            description = "Guidance of the source prompt; the source chain is guided when it is above 1 (default: ${DEFAULT-VALUE}).")
    double sourceGuidanceScale;

    @Option(names = {"--num-images", "--num-images-per-prompt"}, defaultValue = "1", description = "Codes per image (default: ${DEFAULT-VALUE}).")
    int numImages;

    @Option(names = "--eta", defaultValue = "0.1", description = "DDIM stochasticity, > 0 (default: ${DEFAULT-VALUE}); other samplers ignore it.")
    double eta;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the torch-compatible generator (default: random, printed).")
    Long seed;

    @Option(names = "--clip-skip", paramLabel = "N", description = "CLIP layers to skip.")
    Integer clipSkip;

    @Option(names = "--scheduler", paramLabel = "NAME", description = "Sampler to encode with, a registered _class_name (default: the model's).")
    String scheduler;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The code, a .safetensors file (written atomically).")
    Path output;

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<RgbImage> inputs = new ArrayList<>();
        for (Path p : images) {
            inputs.add(ImageFiles.read(p));
            if (Files.exists(output) && Files.isSameFile(output, p)) {
                throw new Errors.UsageException("--output " + output + " is the input image " + p + "; choose another file");
            }
        }
        Path parent = output.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new Errors.UsageException("--output " + output + ": directory " + parent + " does not exist");
        }
        long usedSeed = seed != null ? seed : new SecureRandom().nextLong() & 0xffffffffL;
        if (seed == null && !quiet) {
            err.println("seed: " + usedSeed);
        }
        EncodeRequest.Builder request = EncodeRequest.builder().images(inputs).sourcePrompts(sourcePrompts).strength(strength)
                .numInferenceSteps(steps).sourceGuidanceScale(sourceGuidanceScale).numImagesPerPrompt(numImages).eta(eta).seed(usedSeed)
                .clipSkip(clipSkip);
        if (!quiet) {
            request.listener((i, n, t, latents) -> {
                err.printf(Locale.ROOT, "encode step %d/%d (t=%d)%n", i + 1, n, t);
                err.flush();
                return true;
            });
        }
        // The checker judges images; a code has none, but the folder's declaration is honoured as for every load.
        PipelineLoader.Options requested = model.options(scheduler, true);
        ModelFolder folder = model.resolve(requested, spec.commandLine().getErr());
        PipelineLoader.Options options = model.withAutoDType(requested, folder, spec.commandLine().getErr());
        try (CycleDiffusionPipeline pipeline = new PipelineLoader().load(folder, options)) {
            LatentCode code = pipeline.encode(request.build());
            ObjectNode parameters = code.parameters();
            ArrayNode names = parameters.putArray("images");
            images.forEach(p -> names.add(p.toString()));
            parameters.put("backend", pipeline.models().description());
            // as the user named it: decode's provenance names it as the source model when it decodes on another
            parameters.put("model", model.source.model);
            new LatentCode(code.scheduler(), code.noiseSchedule(), code.schedulerConfig(), code.timesteps(), code.numInferenceSteps(),
                    code.strength(), code.eta(), code.startLatents(), code.noises(), code.imageHeight(), code.imageWidth(), code.rows(),
                    code.numImagesPerPrompt(), code.vaeScalingFactor(), code.model(), parameters).save(output);
        }
        out.println(output);
        return Main.OK;
    }
}
