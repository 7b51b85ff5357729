package org.cyclediffusion.core.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.config.ModelFolderContents;
import org.cyclediffusion.core.io.Closeables;
import org.cyclediffusion.core.model.ModelResolver;
import org.cyclediffusion.core.model.ModelSpec;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.precision.AutoDType;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyChecker;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;

/**
 * Assembles a pipeline from a model folder and what the class path offers. Exception-safe: when a
 * later part fails to load, what was already opened is closed before the exception leaves.
 */
public final class PipelineLoader {
    private static final System.Logger LOG = System.getLogger(PipelineLoader.class.getName());

    /** The backend that reads a single-file checkpoint's networks (through {@link ModelFolder#weights}). */
    private static final String SINGLE_FILE_BACKEND = "libtorch";

    private final Registry registry;

    public PipelineLoader(Registry registry) {
        this.registry = registry;
    }

    public PipelineLoader() {
        this(Registry.discover());
    }

    public Registry registry() {
        return registry;
    }

    /**
     * @param backend         backend name, or null to pick the one whose files are in each folder
     * @param dtype           null for the backend's default on that device
     * @param safetyChecker   false turns the checker off (with a warning) even when the folder declares one
     * @param targetModel     model B for unpaired translation: the target chain runs on it (its text
     *                        encoder, its UNet) and its safety checker checks the output; null for a one-model pipeline
     * @param scheduler       a registered {@code _class_name} to sample with instead of the folders' own, built
     *                        from their scheduler configs as diffusers' {@code from_config}; null for the folders' own
     * @param weightResidency whether the pipeline keeps weights resident between runs ({@link WeightResidency#KEEP},
     *                        also for null) or releases each network's after its last use in a run (one-shot commands)
     */
    public record Options(Path model, String backend, Device device, DType dtype, boolean safetyChecker, Path targetModel, String scheduler,
            WeightResidency weightResidency) {
        public Options {
            device = device == null ? Device.CPU : device;
            weightResidency = weightResidency == null ? WeightResidency.KEEP : weightResidency;
        }

        public Options(Path model, String backend, Device device, DType dtype, boolean safetyChecker, Path targetModel, String scheduler) {
            this(model, backend, device, dtype, safetyChecker, targetModel, scheduler, WeightResidency.KEEP);
        }

        public Options(Path model, String backend, Device device, DType dtype, boolean safetyChecker) {
            this(model, backend, device, dtype, safetyChecker, null, null);
        }

        public static Options of(Path model) {
            return new Options(model, null, Device.CPU, null, true);
        }

        public Options withBackend(String b) {
            return new Options(model, b, device, dtype, safetyChecker, targetModel, scheduler, weightResidency);
        }

        public Options withDevice(Device d) {
            return new Options(model, backend, d, dtype, safetyChecker, targetModel, scheduler, weightResidency);
        }

        public Options withDType(DType d) {
            return new Options(model, backend, device, d, safetyChecker, targetModel, scheduler, weightResidency);
        }

        public Options withSafetyChecker(boolean on) {
            return new Options(model, backend, device, dtype, on, targetModel, scheduler, weightResidency);
        }

        public Options withTargetModel(Path b) {
            return new Options(model, backend, device, dtype, safetyChecker, b, scheduler, weightResidency);
        }

        public Options withScheduler(String className) {
            return new Options(model, backend, device, dtype, safetyChecker, targetModel, className, weightResidency);
        }

        public Options withWeightResidency(WeightResidency w) {
            return new Options(model, backend, device, dtype, safetyChecker, targetModel, scheduler, w);
        }
    }

    /** One loaded model and what must be closed with it. */
    private record Loaded(DiffusionModel model, SafetyChecker checker) implements AutoCloseable {
        @Override
        public void close() {
            try (Models m = model.models()) {
                if (checker != null) {
                    checker.close();
                }
            }
        }
    }

    /**
     * {@code options} with the precision {@code --dtype auto} chooses for {@code folder} on their backend and
     * device ({@link AutoDType#resolve}: the cached decision, or a measurement), its one line handed to {@code report}.
     */
    public Options withAutoDType(ModelFolder folder, Options options, Consumer<String> report) {
        AutoDType.Decision d = AutoDType.resolve(backend(folder, options), folder, options.device(), AutoDType.defaultCacheFile());
        report.accept(d.line());
        return options.withDType(d.dtype());
    }

    /**
     * The backend that will load {@code folder} for these options, checked without loading
     * anything: named and able to open the folder on the device, or the one whose files are there.
     */
    public BackendProvider backend(ModelFolder folder, Options options) {
        String backendName = folder.checkpoint().isPresent() && options.backend() == null ? SINGLE_FILE_BACKEND : options.backend();
        BackendProvider backend = backendName == null ? registry.backendFor(folder) : registry.backend(backendName);
        if (folder.checkpoint().isPresent() && !backend.name().equals(SINGLE_FILE_BACKEND)) {
            // Only LibTorch reads weights through ModelFolder.weights; another backend would load the config folder's own files.
            throw new ConfigException(folder + ": a single-file checkpoint loads on the " + SINGLE_FILE_BACKEND + " backend, not "
                    + backend.name() + " (drop --backend " + backend.name() + ")");
        }
        if (options.backend() != null && !backend.canOpen(folder)) {
            List<String> others = registry.backends().values().stream().filter(b -> b.canOpen(folder)).map(BackendProvider::name).toList();
            throw new ConfigException(others.isEmpty()
                    ? "the " + backend.name() + " backend cannot load this folder: " + ModelFolderContents.whyUnrecognised(folder)
                    : folder + ": the " + backend.name() + " backend finds no model files it can load here; the folder is for " + others);
        }
        if (!backend.devices().contains(options.device().type())) {
            throw new ConfigException("device " + options.device() + " is not available with the " + backend.name() + " backend (available: "
                    + backend.devices() + ")");
        }
        return backend;
    }

    public CycleDiffusionPipeline load(Options options) {
        return load(ModelFolder.open(options.model()), options);
    }

    /**
     * Loads a model already resolved (a hub id, a single-file checkpoint or a variant, see
     * {@code org.cyclediffusion.core.model.ModelResolver}); {@code options.model()} is not read,
     * {@code options.targetModel()}, when set, is resolved as {@code --model} is (a folder, a
     * single file, a hub id from the cache or downloaded).
     */
    public CycleDiffusionPipeline load(ModelFolder folder, Options options) {
        return load(folder, options.targetModel() == null ? null : new ModelResolver().resolve(ModelSpec.of(options.targetModel().toString()),
                options.backend(), options.safetyChecker()), options);
    }

    /**
     * Loads {@code folder} for {@link CycleDiffusionPipeline#encode} only. A latent code holds no
     * image, so no safety checker is opened and none is warned about: {@code options.safetyChecker()}
     * and {@code options.targetModel()} are not read, and the checker's files may be missing or
     * broken. The pipeline refuses {@code edit} and {@code decode}, which would make images no
     * checker saw; load with {@link #load(ModelFolder, Options)} for those.
     */
    public CycleDiffusionPipeline loadEncoder(ModelFolder folder, Options options) {
        Loaded a = open(folder, options, false);
        try {
            return CycleDiffusionPipeline.encoderOnly(a.model(), a, options.weightResidency());
        } catch (RuntimeException e) {
            throw Closeables.closeAfter(e, a);
        }
    }

    /** As {@link #load(ModelFolder, Options)} with model B resolved too (null for a one-model pipeline). */
    public CycleDiffusionPipeline load(ModelFolder model, ModelFolder targetModel, Options options) {
        Loaded a = open(model, options, targetModel == null);
        Loaded b = null;
        try {
            if (targetModel != null) {
                b = open(targetModel, options, true);
            }
            Loaded ownedA = a;
            Loaded ownedB = b;
            AutoCloseable owned = () -> {
                try (ownedA) {
                    if (ownedB != null) {
                        ownedB.close();
                    }
                }
            };
            return new CycleDiffusionPipeline(a.model(), b == null ? null : b.model(), b == null ? a.checker() : b.checker(), owned,
                    options.weightResidency());
        } catch (RuntimeException e) {
            throw Closeables.closeAfter(e, b, a);
        }
    }

    private Loaded open(ModelFolder folder, Options options, boolean withChecker) {
        BackendProvider backend = backend(folder, options);
        // Read the cheap parts first so a broken scheduler or tokenizer fails before weights load.
        SchedulerFactory scheduler = registry.scheduler(options.scheduler(), folder.config("scheduler", "scheduler_config.json"));
        if (scheduler.dpmEncoding().isEmpty()) {
            throw new ConfigException(folder + ": scheduler " + scheduler.className() + " cannot be used for CycleDiffusion: it offers no"
                    + " posterior sample and noise recovery (DpmEncoding); choose one that does with --scheduler (installed: "
                    + registry.schedulers().keySet() + ")");
        }
        ClipTokenizer tokenizer = ClipTokenizer.load(folder.component("tokenizer"));
        DType dtype = options.dtype() != null ? options.dtype() : backend.defaultDType(folder, options.device());
        Models models = backend.open(folder, options.device(), dtype);
        try {
            SafetyChecker checker = withChecker ? safetyChecker(folder, models, options.safetyChecker()) : null;
            return new Loaded(new DiffusionModel(folder.toString(), models, tokenizer, scheduler), checker);
        } catch (RuntimeException e) {
            throw Closeables.closeAfter(e, models);
        }
    }

    private SafetyChecker safetyChecker(ModelFolder folder, Models models, boolean wanted) {
        boolean declared = folder.declared("safety_checker").isPresent();
        // diffusers' pipelines warn whenever they run without a checker while the folder's
        // requires_safety_checker is true (the default of their __init__), whatever the reason.
        boolean required = folder.modelIndex().getBoolean("requires_safety_checker", true);
        if (!wanted) {
            if (declared || required) {
                LOG.log(System.Logger.Level.WARNING, folder + (declared ? " declares a safety checker" : " requires a safety checker")
                        + " and it is turned off: outputs are not checked for unsafe content. Keep it on for anything exposed to the public.");
            }
            return null;
        }
        Optional<org.cyclediffusion.core.spi.SafetyCheckerProvider> provider = registry.safetyChecker();
        SafetyChecker checker = null;
        if (provider.isEmpty()) {
            if (declared) {
                throw new ConfigException(folder + ": model_index.json declares a safety_checker but the safety module is not on the class path;"
                        + " add org.cyclediffusion:cyclediffusion-safety, or turn checking off explicitly (--no-safety-checker)");
            }
        } else {
            checker = provider.get().create(folder, models).orElse(null);
        }
        if (checker == null && required) {
            LOG.log(System.Logger.Level.WARNING, folder + ": model_index.json declares no safety_checker although requires_safety_checker is"
                    + " true (the default): outputs are not checked for unsafe content. Add a checker to the folder, or set"
                    + " requires_safety_checker to false to say the model is meant to run without one.");
        }
        return checker;
    }
}
