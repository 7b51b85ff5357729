package org.cyclediffusion.onnx;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.io.Closeables;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyModel;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.spi.Vae;

/**
 * The ONNX networks of one model folder (optimum's layout, or the diffusers export script's):
 * {@code text_encoder/}, {@code unet/}, {@code vae_encoder/}, {@code vae_decoder/} and, when
 * present, {@code safety_checker/}, each a {@code model.onnx} with an optional {@code config.json}.
 * The checker's session opens when it is first asked for ({@link #safetyModel()}, as the LibTorch
 * backend does): a pipeline that only encodes never needs it, and on SD 1.5 it is 1.2 GB.
 *
 * <p>Opening is exception-safe (what was opened is closed before the exception leaves) and closing
 * is idempotent.
 */
final class OrtModels implements Models {
    private static final System.Logger LOG = System.getLogger(OrtModels.class.getName());
    private final OrtTextEncoder textEncoder;
    private final OrtUNet unet;
    private final OrtVae vae;
    private final OrtSessionFactory factory;
    /** Text encoder, UNet, VAE encoder and decoder model files: whose mapped weights a phase releases. */
    private final Map<EditPhase, Path> files;
    private final Optional<Path> safetyFile;
    private OrtSafetyClassifier safety;
    private final String description;
    private boolean closed;

    private OrtModels(OrtTextEncoder textEncoder, OrtUNet unet, OrtVae vae, OrtSessionFactory factory, Map<EditPhase, Path> files,
            Optional<Path> safetyFile, String description) {
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.factory = factory;
        this.files = files;
        this.safetyFile = safetyFile;
        this.description = description;
    }

    static OrtModels open(ModelFolder folder, Device device, DType dtype) {
        return open(folder, dtype, new OrtSessionFactory(device));
    }

    /** Opens the folder's networks with the sessions of {@code factory} (its device, tuning and cache). */
    static OrtModels open(ModelFolder folder, DType dtype, OrtSessionFactory factory) {
        Device device = factory.device();
        // Every required file is checked before the first session loads.
        Path textEncoderFile = folder.requireFile("text_encoder", "model.onnx");
        Path unetFile = folder.requireFile("unet", "model.onnx");
        Path encoderFile = folder.requireFile("vae_encoder", "model.onnx");
        Path decoderFile = folder.requireFile("vae_decoder", "model.onnx");
        Optional<Path> safetyFile = folder.hasFile("safety_checker", "model.onnx")
                ? Optional.of(folder.component("safety_checker").resolve("model.onnx")) : Optional.empty();

        List<AutoCloseable> opened = new ArrayList<>();
        try {
            OrtTextEncoder te = OrtTextEncoder.open(factory, textEncoderFile, config(folder, "text_encoder"));
            opened.add(te);
            OrtUNet unet = OrtUNet.open(factory, unetFile, config(folder, "unet"));
            opened.add(unet);
            DType computes = OrtElementType.dtype(unet.floatType());
            if (computes != dtype) {
                throw new ConfigException(unetFile + ": this export computes in " + computes.shortName() + " (its inputs are declared "
                        + OrtElementType.name(unet.floatType()) + "), but " + dtype.shortName() + " was requested; an ONNX model's"
                        + " precision is fixed when it is exported: ask for --dtype " + computes.shortName()
                        + " or use an export in " + dtype.shortName());
            }
            JsonConfig vaeConfig = config(folder, "vae_decoder");
            OrtVae vae = OrtVae.open(factory, encoderFile, decoderFile, vaeConfig != null ? vaeConfig : config(folder, "vae_encoder"));
            opened.add(vae);
            OrtMappedWeights.available();
            Map<EditPhase, Path> files = Map.of(EditPhase.ENCODING_PROMPT, textEncoderFile, EditPhase.DENOISING, unetFile,
                    EditPhase.ENCODING_IMAGE, encoderFile, EditPhase.DECODING, decoderFile);
            return new OrtModels(te, unet, vae, factory, files, safetyFile, "onnx " + device + " " + computes.shortName());
        } catch (RuntimeException e) {
            Collections.reverse(opened);
            throw Closeables.closeAfter(e, opened);
        }
    }

    private static JsonConfig config(ModelFolder folder, String component) {
        return folder.hasFile(component, "config.json") ? folder.config(component, "config.json") : null;
    }

    @Override
    public TextEncoder textEncoder() {
        return textEncoder;
    }

    @Override
    public UNet unet() {
        return unet;
    }

    @Override
    public Vae vae() {
        return vae;
    }

    /** {@code safety_checker/model.onnx} when the folder has it, its session opened on the first call. */
    @Override
    public synchronized Optional<SafetyModel> safetyModel() {
        if (closed) {
            throw new CycleDiffusionException("the ONNX models (" + description + ") are closed");
        }
        if (safety == null && safetyFile.isPresent()) {
            safety = OrtSafetyClassifier.open(factory, safetyFile.get());
        }
        return Optional.ofNullable(safety);
    }

    /**
     * After the network of {@code phase} has run for the last time in a one-shot run: its mapped
     * weights' pages leave this process's memory ({@link OrtMappedWeights}), as the LibTorch backend's
     * do. They stay in the OS page cache, so a later pass reads them back without the disk.
     */
    @Override
    public synchronized void releaseResidentWeights(EditPhase phase) {
        Path file = phase == EditPhase.SAFETY_CHECK ? (safety != null ? safetyFile.orElse(null) : null) : files.get(phase);
        if (file == null || closed) {
            return;
        }
        List<Path> dirs = factory.mappedFrom(file);
        long t0 = System.nanoTime();
        long bytes = OrtMappedWeights.release(dirs);
        LOG.log(System.Logger.Level.DEBUG, () -> String.format(Locale.ROOT, "after %s: released %.1f MiB of weights mapped from %s in %.0f ms",
                phase.description(), bytes / 1048576.0, dirs, (System.nanoTime() - t0) / 1e6));
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Closeables.closeAll(safety, vae, unet, textEncoder);
        } catch (RuntimeException e) {
            throw new CycleDiffusionException("closing the ONNX models failed", e);
        }
    }
}
