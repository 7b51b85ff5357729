package org.cyclediffusion.core.plugin;

import com.google.inject.AbstractModule;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.config.ModelFolderContents;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.RandomModelWriter;
import org.cyclediffusion.core.spi.SafetyCheckerProvider;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.spi.SchedulerProvider;

/**
 * What the class path offers: every {@link CycleDiffusionPlugin} found with {@link ServiceLoader},
 * assembled into one Guice injector. An unknown name fails with the list of known ones.
 */
public final class Registry {
    private final Map<String, BackendProvider> backends;
    private final Map<String, SchedulerProvider> schedulers;
    private final Optional<SafetyCheckerProvider> safety;
    private final Optional<RandomModelWriter> randomModelWriter;

    private Registry(Injector injector) {
        this.backends = new TreeMap<>(injector.getInstance(Key.get(new TypeLiteral<Map<String, BackendProvider>>() { })));
        this.schedulers = new TreeMap<>(injector.getInstance(Key.get(new TypeLiteral<Map<String, SchedulerProvider>>() { })));
        this.safety = injector.getInstance(Key.get(new TypeLiteral<Optional<SafetyCheckerProvider>>() { }));
        this.randomModelWriter = injector.getInstance(Key.get(new TypeLiteral<Optional<RandomModelWriter>>() { }));
    }

    /** Discovers the plug-ins visible to this class's loader. */
    public static Registry discover() {
        return discover(Registry.class.getClassLoader());
    }

    public static Registry discover(ClassLoader loader) {
        List<com.google.inject.Module> modules = new ArrayList<>();
        // The binders exist even when no plug-in contributes, so the maps are empty rather than missing.
        modules.add(new AbstractModule() {
            @Override
            protected void configure() {
                Plugins.backends(binder());
                Plugins.schedulers(binder());
                Plugins.safetyChecker(binder());
                Plugins.randomModelWriter(binder());
            }
        });
        for (CycleDiffusionPlugin p : ServiceLoader.load(CycleDiffusionPlugin.class, loader)) {
            modules.add(p);
        }
        return new Registry(Guice.createInjector(modules));
    }

    public Map<String, BackendProvider> backends() {
        return backends;
    }

    public Map<String, SchedulerProvider> schedulers() {
        return schedulers;
    }

    public Optional<SafetyCheckerProvider> safetyChecker() {
        return safety;
    }

    /** The full-size random-weight model writer, when a plug-in provides one (the LibTorch backend does). */
    public Optional<RandomModelWriter> randomModelWriter() {
        return randomModelWriter;
    }

    public BackendProvider backend(String name) {
        BackendProvider b = backends.get(name);
        if (b == null) {
            throw new ConfigException("unknown backend '" + name + "'; known: " + backends.keySet()
                    + (backends.isEmpty() ? " (add a backend artifact such as cyclediffusion-backend-onnx to the class path)" : ""));
        }
        return b;
    }

    /** The first backend (by name) whose files are in the folder. */
    public BackendProvider backendFor(ModelFolder folder) {
        for (BackendProvider b : backends.values()) {
            if (b.canOpen(folder)) {
                return b;
            }
        }
        throw new ConfigException(ModelFolderContents.whyUnrecognised(folder) + " (known backends: " + backends.keySet() + ")");
    }

    /** The sampler named by {@code _class_name} in the config. */
    public SchedulerFactory scheduler(JsonConfig config) {
        String name = config.getString("_class_name", null);
        if (name == null) {
            throw new ConfigException(config.source() + ": no _class_name (expected the scheduler class, e.g. DDIMScheduler)");
        }
        return schedulerProvider(name, config.source() + ": _class_name").load(config);
    }

    /**
     * The sampler {@code className} built from another sampler's config, as diffusers'
     * {@code Scheduler.from_config(pipe.scheduler.config)}: the training schedule carries over, keys
     * the new class does not take are reported and ignored.
     */
    public SchedulerFactory scheduler(String className, JsonConfig config) {
        if (className == null) {
            return scheduler(config);
        }
        return schedulerProvider(className, "scheduler").load(config);
    }

    private SchedulerProvider schedulerProvider(String name, String where) {
        SchedulerProvider p = schedulers.get(name);
        if (p == null) {
            throw new ConfigException(where + " '" + name + "' has no scheduler on the class path; known: " + schedulers.keySet()
                    + (schedulers.isEmpty() ? " (add cyclediffusion-scheduler-ddim to the class path)" : ""));
        }
        return p;
    }

    /** The sampler of a model folder, {@code scheduler/scheduler_config.json}. */
    public SchedulerFactory scheduler(ModelFolder folder) {
        return scheduler(folder.config("scheduler", "scheduler_config.json"));
    }
}
