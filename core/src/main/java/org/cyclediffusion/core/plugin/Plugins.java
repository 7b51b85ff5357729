package org.cyclediffusion.core.plugin;

import com.google.inject.Binder;
import com.google.inject.multibindings.MapBinder;
import com.google.inject.multibindings.OptionalBinder;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.RandomModelWriter;
import org.cyclediffusion.core.spi.SafetyCheckerProvider;
import org.cyclediffusion.core.spi.SchedulerProvider;

/** The binding points plug-in modules contribute to. */
public final class Plugins {
    private Plugins() {
    }

    /** Backends keyed by their {@link BackendProvider#name()}. */
    public static MapBinder<String, BackendProvider> backends(Binder binder) {
        return MapBinder.newMapBinder(binder, String.class, BackendProvider.class);
    }

    /** Schedulers keyed by the diffusers {@code _class_name} they implement. */
    public static MapBinder<String, SchedulerProvider> schedulers(Binder binder) {
        return MapBinder.newMapBinder(binder, String.class, SchedulerProvider.class);
    }

    /** The safety checker, when the safety module is on the class path. */
    public static OptionalBinder<SafetyCheckerProvider> safetyChecker(Binder binder) {
        return OptionalBinder.newOptionalBinder(binder, SafetyCheckerProvider.class);
    }

    /** The writer of full-size random-weight model folders, when a backend that knows the networks provides one. */
    public static OptionalBinder<RandomModelWriter> randomModelWriter(Binder binder) {
        return OptionalBinder.newOptionalBinder(binder, RandomModelWriter.class);
    }
}
