package org.cyclediffusion.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cyclediffusion export-onnx}: writes optimum's ONNX layout of a diffusers folder (pure Java,
 * no Python; {@link org.cyclediffusion.onnxexport.OnnxExporter}), which {@code --backend onnx} runs.
 */
@Command(name = "export-onnx", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Export a diffusers Stable Diffusion folder (SD 1.x/2.x, safetensors) to the ONNX layout of"
                + " optimum-cli export onnx: text_encoder, unet, vae_encoder, vae_decoder (float32, opset 14),",
                "and safety_checker as diffusers' ONNX export script writes it when the folder has one."})
final class ExportOnnxCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The diffusers folder to export.")
    Path model;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "The folder to create (must not exist).")
    Path output;

    @Option(names = "--verbose", description = "Stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() {
        if (java.nio.file.Files.exists(output)) {
            throw new Errors.UsageException("--output " + output + ": already exists; give a new folder");
        }
        long start = System.nanoTime();
        var err = spec.commandLine().getErr();
        RandomModels.exportOnnx(model, output, err);
        err.printf("wrote %s in %.1f s%n", output, (System.nanoTime() - start) / 1e9);
        spec.commandLine().getOut().println(output);
        return Main.OK;
    }
}
