package org.cyclediffusion.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.InvalidInputException;

/**
 * The process-wide ONNX Runtime environment, set up once so that ONNX Runtime stays out of the
 * user's way:
 * <ul>
 *   <li>its own log is quiet ({@code fatal}) unless {@value #LOG_LEVEL_PROPERTY} or
 *       {@code $}{@value #LOG_LEVEL_ENV} asks for {@code verbose}, {@code info}, {@code warning} or
 *       {@code error}: its lines (ANSI-coloured, e.g. the arena's "Failed to allocate ...") are not
 *       messages for a user; every failure reaches the caller as an exception that
 *       {@link OrtErrors} turns into one line;</li>
 *   <li>the {@code onnxruntime-java*} folder its loader creates in the system temp folder is deleted
 *       (ONNX Runtime marks it for deletion on exit before the libraries in it, so the JVM leaves it
 *       behind, empty, at every run);</li>
 *   <li>the shutdown waits for native calls in flight ({@link OrtNativeCalls#drain}) and the native
 *       environment is pinned with one extra reference, so ONNX Runtime's own shutdown hook, which
 *       releases it concurrently with every other hook, cannot free it under a session still being
 *       created or run.</li>
 * </ul>
 */
final class OrtRuntime {
    static final String LOG_LEVEL_PROPERTY = "cyclediffusion.ort.log-level";
    static final String LOG_LEVEL_ENV = "CYCLEDIFFUSION_ORT_LOG_LEVEL";
    private static final String NAME = "cyclediffusion";
    private static final System.Logger LOG = System.getLogger(OrtRuntime.class.getName());

    private static volatile OrtEnvironment environment;
    private static OrtLoggingLevel logLevel;
    private static Path nativeTempDirectory;

    private OrtRuntime() {
    }

    /** The environment, created on first use (this loads the native library). */
    static OrtEnvironment environment() {
        OrtEnvironment env = environment;
        return env != null ? env : start();
    }

    private static synchronized OrtEnvironment start() {
        if (environment != null) {
            return environment;
        }
        OrtLoggingLevel level = logLevel();
        OrtEnvironment env;
        try {
            env = OrtEnvironment.getEnvironment(level, NAME);
        } catch (IllegalStateException e) {
            // ONNX Runtime registers a shutdown hook when it starts; during shutdown it cannot.
            throw new CycleDiffusionException("ONNX Runtime not started: the JVM is shutting down", e);
        }
        nativeTempDirectory = nativeTempDirectory().orElse(null);
        deleteNativeTempDirectory(false);
        try {
            Runtime.getRuntime().addShutdownHook(new Thread(OrtRuntime::shutdown, "cyclediffusion-onnx-shutdown"));
        } catch (IllegalStateException e) {
            throw new CycleDiffusionException("ONNX Runtime not started: the JVM is shutting down", e);
        }
        pin(level);
        logLevel = level;
        environment = env;
        return env;
    }

    /** The logging level ONNX Runtime was started with. */
    static synchronized OrtLoggingLevel startedLogLevel() {
        environment();
        return logLevel;
    }

    private static void shutdown() {
        OrtNativeCalls.drain();
        deleteNativeTempDirectory(true);
    }

    /** {@value #LOG_LEVEL_PROPERTY}, else {@code $}{@value #LOG_LEVEL_ENV}, else {@code fatal}. */
    static OrtLoggingLevel logLevel() {
        String source = LOG_LEVEL_PROPERTY;
        String value = System.getProperty(LOG_LEVEL_PROPERTY);
        if (value == null || value.isBlank()) {
            source = "$" + LOG_LEVEL_ENV;
            value = System.getenv(LOG_LEVEL_ENV);
        }
        if (value == null || value.isBlank()) {
            return OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        }
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "verbose" -> OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE;
            case "info" -> OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO;
            case "warning" -> OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING;
            case "error" -> OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            case "fatal" -> OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            default -> throw new InvalidInputException(source + " = " + value + ": expected one of verbose, info, warning, error, fatal");
        };
    }

    /**
     * Takes a second native reference to the environment (ONNX Runtime's {@code CreateEnv} on an
     * existing environment returns it and counts the reference), so the release in ONNX Runtime's
     * shutdown hook leaves it alive while our hook waits for native calls to return; the process
     * ends with it. Java offers no public way to do this; if the private entry point is not there
     * (another ONNX Runtime version), the shutdown still waits for native calls, and the log says so.
     */
    private static void pin(OrtLoggingLevel level) {
        try {
            Class<?> runtime = Class.forName("ai.onnxruntime.OnnxRuntime");
            Field api = runtime.getDeclaredField("ortApiHandle");
            api.setAccessible(true);
            Method create = OrtEnvironment.class.getDeclaredMethod("createHandle", long.class, int.class, String.class);
            create.setAccessible(true);
            create.invoke(null, api.getLong(null), level.getValue(), NAME);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot pin the ONNX Runtime environment (" + e + "); ONNX Runtime's shutdown hook may"
                    + " release it while a session is still in use");
        }
    }

    /** The folder ONNX Runtime's loader extracted its libraries to ({@code OnnxRuntime.tempDirectory}), when it has one. */
    private static Optional<Path> nativeTempDirectory() {
        try {
            Field f = Class.forName("ai.onnxruntime.OnnxRuntime").getDeclaredField("tempDirectory");
            f.setAccessible(true);
            return Optional.ofNullable((Path) f.get(null));
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot find ONNX Runtime's temporary library folder: " + e);
            return Optional.empty();
        }
    }

    /**
     * Deletes the loader's folder once nothing more will be extracted into it: with the CPU
     * artifact at once (both libraries are loaded, and deleting a loaded library is harmless on
     * Linux and macOS); with provider libraries on the class path (CUDA), which ONNX Runtime
     * extracts when a session first asks for them, at shutdown.
     */
    private static synchronized void deleteNativeTempDirectory(boolean atExit) {
        Path dir = nativeTempDirectory;
        if (dir == null || !Files.isDirectory(dir)) {
            return;
        }
        boolean providers = OrtSessionFactory.nativeResource(OrtRuntime.class.getClassLoader(), "onnxruntime_providers_shared");
        if (providers && !atExit) {
            return;
        }
        OrtModelCache.delete(dir);
    }

    /** ONNX Runtime's version, e.g. {@code 1.23.2}. */
    static String version() {
        return environment().getVersion();
    }
}
