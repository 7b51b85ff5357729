package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The flags of the source half, shared by {@code edit} and {@code encode}: the images, what they
 * show, and how the DPM-Encoder walks the schedule. An edit is decode(encode(…)), so both commands
 * take these with the same names, defaults and parsing; the target half (--prompt,
 * --guidance-scale) is edit's and decode's own.
 */
final class EncodeOptions {
    @Option(names = "--image", required = true, paramLabel = "FILE", description = "Input image (PNG, JPEG or WebP); repeat for a batch.")
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

    @Option(names = "--eta", defaultValue = "0.1", description = "DDIM stochasticity, > 0 (default: ${DEFAULT-VALUE}); other samplers ignore it.")
    double eta;

    @Option(names = {"--num-images", "--num-images-per-prompt"}, defaultValue = "1",
            description = "Outputs per input row: edited images (edit) or codes (encode) (default: ${DEFAULT-VALUE}).")
    int numImages;

    @Option(names = "--seed", paramLabel = "N", converter = Seed.class,
            description = "Seed of the torch-compatible generator, 0 to 2^64-1 as torch.manual_seed (default: random, printed).")
    Long seed;

    @Option(names = "--clip-skip", paramLabel = "N", description = "CLIP layers to skip.")
    Integer clipSkip;

    @Option(names = "--scheduler", paramLabel = "NAME", description = "Sampler, a registered _class_name (`cyclediffusion schedulers`; default: the model's).")
    String scheduler;

    private Long drawn;

    /** {@code --seed}, or a random one drawn once (32 bits, as diffusers users pass them). */
    long seed() {
        if (seed != null) {
            return seed;
        }
        if (drawn == null) {
            drawn = new SecureRandom().nextLong() & 0xffffffffL;
        }
        return drawn;
    }

    /** Says the drawn seed on stderr, so that a run without --seed can be repeated. */
    void printDrawnSeed(PrintWriter err, boolean quiet) {
        if (seed == null && !quiet) {
            err.println("seed: " + Seed.toString(seed()));
        }
    }
}
