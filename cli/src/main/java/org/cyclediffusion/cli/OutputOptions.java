package org.cyclediffusion.cli;

import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** The flags that say where images go, shared by {@code edit} and {@code decode}; {@link OutputTarget} checks them. */
final class OutputOptions {
    @Option(names = "--output", required = true, paramLabel = "FILE",
            description = "Output file (.png, .jpg or .npy); several images become NAME-0.png, NAME-1.png, ... in diffusers' order.")
    Path output;

    @Option(names = {"--output-format", "--output-type"}, paramLabel = "FMT",
            description = "png, jpg or npy; diffusers' output_type names pil and np mean png and npy (default: from the --output extension, else png).")
    String format;

    @Option(names = "--quality", paramLabel = "Q", description = "JPEG quality, 1 to 100 (default: " + OutputTarget.DEFAULT_QUALITY + ").")
    Integer quality;

    /** The checked target of {@code images} outputs, none of which may be one of {@code inputs} (named {@code inputKind} in messages). */
    OutputTarget plan(int images, List<Path> inputs, String inputKind) {
        return OutputTarget.plan(output, format, quality, images, inputs, inputKind);
    }
}
