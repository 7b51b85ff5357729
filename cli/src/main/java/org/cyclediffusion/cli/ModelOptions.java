package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.pipeline.WeightResidency;
import org.cyclediffusion.core.precision.AutoDType;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** The flags that choose a model and how it runs, shared by edit, encode, decode, batch and serve. */
final class ModelOptions {
    /** System property overriding the weight residency of one-shot commands: keep or release_after_use. */
    static final String WEIGHT_RESIDENCY_PROPERTY = "cyclediffusion.weightResidency";

    @CommandLine.Mixin
    ModelSource source;

    @Option(names = "--backend", paramLabel = "NAME", description = "onnx or libtorch (default: chosen by the folder's files).")
    String backend;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEV", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--dtype", paramLabel = "T", description = "fp32, fp16, bf16, or auto: the fastest whose UNet output is within 2%% of"
            + " fp32's range on this machine, measured once and cached (default: the backend's for the device).")
    String dtype;

    /** What {@code --dtype} accepts, for its error message. */
    static final String DTYPES = "fp32, fp16, bf16, auto";

    @Option(names = "--verbose", description = "Stack traces on errors.")
    boolean verbose;

    /** The loader options for these flags, with a sampler class (null: the folder's) and the checker on or off. */
    PipelineLoader.Options options(String scheduler, boolean safetyChecker) {
        return new PipelineLoader.Options(Path.of(source.model), backend, device(), dtype(), safetyChecker, null, scheduler);
    }

    /**
     * {@code options} as a one-shot command ({@code edit}, {@code encode}, {@code decode}, and
     * {@code bench}, which measures {@code edit}) runs them: each network's weights leave memory after
     * their last use ({@link WeightResidency#RELEASE_AFTER_USE}), since the process ends after one run.
     * {@code -D}{@value #WEIGHT_RESIDENCY_PROPERTY}{@code =keep} keeps them (to compare the two in a
     * bench). {@code batch} and {@code serve} keep them: they run many edits on one load.
     */
    static PipelineLoader.Options oneShot(PipelineLoader.Options options) {
        String value = System.getProperty(WEIGHT_RESIDENCY_PROPERTY, WeightResidency.RELEASE_AFTER_USE.name());
        for (WeightResidency w : WeightResidency.values()) {
            if (w.name().equalsIgnoreCase(value.trim().replace('-', '_'))) {
                return options.withWeightResidency(w);
            }
        }
        throw new Errors.UsageException("-D" + WEIGHT_RESIDENCY_PROPERTY + "=" + value + ": expected keep or release_after_use");
    }

    /** {@code --device}, parsed. */
    Device device() {
        return Errors.flagValue(() -> Device.parse(device), "--device");
    }

    /** {@code --dtype}, parsed; null when not given or {@code auto} (see {@link #autoDType()}). */
    DType dtype() {
        if (dtype == null || autoDType()) {
            return null;
        }
        try {
            return DType.parse(dtype);
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException("--dtype: '" + dtype + "' is not a precision; expected one of " + DTYPES);
        }
    }

    /** Whether {@code --dtype auto} was given. */
    boolean autoDType() {
        return AutoDType.requested(dtype);
    }

    /**
     * {@code --dtype auto} for this backend, folder and device: {@link AutoDType}'s decision (measured
     * once per machine, backend and model, then read from its cache), reported in one line on stderr.
     */
    DType autoDType(BackendProvider provider, ModelFolder folder, Device dev, PrintWriter err) {
        AutoDType.Decision d = AutoDType.resolve(provider, folder, dev, AutoDType.defaultCacheFile());
        toStderr(err).accept(d.line());
        return d.dtype();
    }

    /** {@code --dtype auto}'s line, printed at once: a first decision is followed by minutes of measuring. */
    static Consumer<String> toStderr(PrintWriter err) {
        return line -> {
            err.println(line);
            err.flush();
        };
    }

    /** {@code options} with {@code --dtype auto} resolved for {@code folder}; unchanged without it. */
    PipelineLoader.Options withAutoDType(PipelineLoader.Options options, ModelFolder folder, PrintWriter err) {
        if (!autoDType()) {
            return options;
        }
        return new PipelineLoader().withAutoDType(folder, options, toStderr(err));
    }

    /** The model these flags name, resolved (and downloaded when it is a hub id missing from the cache) for {@code options}. */
    ModelFolder resolve(PipelineLoader.Options options, PrintWriter err) {
        return source.resolve(options.backend(), options.safetyChecker(), err, false);
    }
}
