package org.cyclediffusion.core.pipeline;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.config.ModelFolderContents;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyChecker;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;

/**
 * Assembles a pipeline from a model folder and what the class path offers. Exception-safe: when a
 * later part fails to load, what was already opened is closed before the exception leaves.
 */
public final class PipelineLoader {
    private static final System.Logger LOG = System.getLogger(PipelineLoader.class.getName());

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
     * @param backend       backend name, or null to pick the one whose files are in the folder
     * @param dtype         null for the backend's default on that device
     * @param safetyChecker false turns the checker off (with a warning) even when the folder declares one
     */
    public record Options(Path model, String backend, Device device, DType dtype, boolean safetyChecker) {
        public Options {
            device = device == null ? Device.CPU : device;
        }

        public static Options of(Path model) {
            return new Options(model, null, Device.CPU, null, true);
        }

        public Options withBackend(String b) {
            return new Options(model, b, device, dtype, safetyChecker);
        }

        public Options withDevice(Device d) {
            return new Options(model, backend, d, dtype, safetyChecker);
        }

        public Options withDType(DType d) {
            return new Options(model, backend, device, d, safetyChecker);
        }

        public Options withSafetyChecker(boolean on) {
            return new Options(model, backend, device, dtype, on);
        }
    }

    /**
     * The backend that will load {@code folder} for these options, checked without loading
     * anything: named and able to open the folder on the device, or the one whose files are there.
     */
    public BackendProvider backend(ModelFolder folder, Options options) {
        BackendProvider backend = options.backend() == null ? registry.backendFor(folder) : registry.backend(options.backend());
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
        ModelFolder folder = ModelFolder.open(options.model());
        BackendProvider backend = backend(folder, options);
        // Read the cheap parts first so a broken scheduler or tokenizer fails before weights load.
        JsonConfig schedulerConfig = folder.config("scheduler", "scheduler_config.json");
        registry.scheduler(schedulerConfig);
        ClipTokenizer tokenizer = ClipTokenizer.load(folder.component("tokenizer"));
        DType dtype = options.dtype() != null ? options.dtype() : backend.defaultDType(options.device());
        Models models = backend.open(folder, options.device(), dtype);
        SafetyChecker checker = null;
        try {
            checker = safetyChecker(folder, models, options.safetyChecker());
            SafetyChecker ownedChecker = checker;
            AutoCloseable owned = () -> {
                try (models) {
                    if (ownedChecker != null) {
                        ownedChecker.close();
                    }
                }
            };
            return new CycleDiffusionPipeline(models, () -> registry.scheduler(schedulerConfig.quietCopy()), tokenizer, checker, owned);
        } catch (RuntimeException e) {
            if (checker != null) {
                try {
                    checker.close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            try {
                models.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
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
