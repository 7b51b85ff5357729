package org.cyclediffusion.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.spi.Device;

/**
 * Creates ONNX Runtime sessions for one device: on the CPU with one intra-op thread per core that
 * does not spin, ONNX Runtime's CPU arena ({@link Tuning#defaults()}), and every graph optimisation ({@code ORT_ENABLE_ALL}), done once and cached
 * ({@link OrtModelCache}); on CUDA through the CUDA execution provider, which only the
 * {@code onnxruntime_gpu} artifact ships. Session creation passes through {@link OrtNativeCalls},
 * so the JVM's shutdown waits for it.
 */
final class OrtSessionFactory {
    /** The artifact that carries the CUDA execution provider. */
    static final String GPU_ARTIFACT = "com.microsoft.onnxruntime:onnxruntime_gpu";

    private static final System.Logger LOG = System.getLogger(OrtSessionFactory.class.getName());

    /**
     * How sessions run on the CPU: intra-op threads, whether idle pool threads spin, ONNX Runtime's
     * memory-pattern planning and its CPU arena.
     */
    record Tuning(int intraOpThreads, boolean spinning, boolean memoryPattern, boolean arena) {
        /** {@code -D}{@value}{@code =true|false}: ONNX Runtime's CPU arena (see {@link #defaults()}). */
        static final String ARENA_PROPERTY = "cyclediffusion.ort.arena";
        /** {@code -D}{@value}{@code =true|false}: ONNX Runtime's memory-pattern planning. */
        static final String MEMORY_PATTERN_PROPERTY = "cyclediffusion.ort.memoryPattern";

        /**
         * One thread per core, no spinning, memory pattern on, CPU arena on. Measured with
         * {@code OrtSessionBenchmark step} on this project's 2-core CI machine under load (README,
         * ONNX section): two spinning threads were 2–5× slower than two that sleep. The arena was
         * off until the fifth session: 1.2–2× slower than plain allocations on the tiny UNet and on
         * a conv stack, and 1.04× per full-size UNet step at one thread. But an edit runs each
         * network once, and a session's first run without the arena was the dear one: the full-size
         * 256² edit at one thread (bench, cold, alternated, quiet machine) took 14.65 s with it
         * against 16.51 s without (VAE encode 1.75 s against 3.42 s, prompt 0.29 against 0.46 s,
         * step 1.03×), at a lower peak RSS (5789 against 6315 MiB); at two threads the edit was equal
         * (8.10 against 8.16 s; encode 0.58×, step 1.08×, decode 1.20×). What the arena holds stays
         * reserved until its session closes. The memory pattern and the arena can be switched with
         * {@value #MEMORY_PATTERN_PROPERTY} and {@value #ARENA_PROPERTY}.
         */
        static Tuning defaults() {
            return new Tuning(Runtime.getRuntime().availableProcessors(), false, flag(MEMORY_PATTERN_PROPERTY, true),
                    flag(ARENA_PROPERTY, true));
        }

        private static boolean flag(String property, boolean otherwise) {
            String v = System.getProperty(property);
            return v == null || v.isBlank() ? otherwise : Boolean.parseBoolean(v.trim());
        }
    }

    /** ONNX Runtime's session setting that turns off weight packing at session creation. */
    static final String DISABLE_PREPACKING = "session.disable_prepacking";

    private final Device device;
    private final Tuning tuning;
    private final OrtModelCache cache;
    /** Model file -> the cache entry its session was loaded from ({@link #mappedFrom}). */
    private final Map<Path, Path> mappedFrom = new ConcurrentHashMap<>();

    OrtSessionFactory(Device device) {
        this(device, Tuning.defaults(), OrtModelCache.configured());
    }

    OrtSessionFactory(Device device, Tuning tuning, OrtModelCache cache) {
        if (device.isCuda() && !cudaOnClassPath(OrtSessionFactory.class.getClassLoader())) {
            throw new CycleDiffusionException("device " + device + ": the onnx backend has no CUDA execution provider on the class path"
                    + " (the com.microsoft.onnxruntime:onnxruntime artifact is CPU-only); replace it with " + GPU_ARTIFACT
                    + ":${onnxruntime.version}, or run with --device cpu");
        }
        this.device = device;
        this.tuning = tuning;
        this.cache = cache;
    }

    Device device() {
        return device;
    }

    OrtModelCache cache() {
        return cache;
    }

    /**
     * Whether the CUDA provider library is on the class path, judged from the jar resources ONNX
     * Runtime's loader would extract ({@code ai/onnxruntime/native/<os>-<arch>/}), or from the
     * folder named by {@code -Donnxruntime.native.path}; no native library is loaded.
     */
    static boolean cudaOnClassPath(ClassLoader loader) {
        return nativeResource(loader, "onnxruntime_providers_cuda");
    }

    /** Whether ONNX Runtime's loader would find the native library {@code name} (jar resource or {@code onnxruntime.native.path}). */
    static boolean nativeResource(ClassLoader loader, String name) {
        String lib = System.mapLibraryName(name);
        String osArch = osArch();
        if (osArch != null && loader.getResource("ai/onnxruntime/native/" + osArch + "/" + lib) != null) {
            return true;
        }
        String nativePath = System.getProperty("onnxruntime.native.path");
        return nativePath != null && new File(nativePath, lib).isFile();
    }

    /** ONNX Runtime's name for this platform's native folder ({@code linux-x64}, {@code osx-aarch64}, ...). */
    private static String osArch() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("mac") || os.contains("darwin") ? "osx" : os.contains("win") ? "win" : os.contains("nux") ? "linux" : null;
        String a = arch.startsWith("amd64") || arch.startsWith("x86_64") ? "x64" : arch.startsWith("aarch64") ? "aarch64" : null;
        return o == null || a == null ? null : o + "-" + a;
    }

    /**
     * A session over a model file. Created from the path, not from bytes, so that ONNX Runtime finds
     * external data ({@code model.onnx_data}, {@code weights.pb}) beside the model. The optimised
     * graph comes from the cache when it holds one ({@link OrtModelCache}); otherwise it is written
     * there while this session is created.
     */
    OrtSession open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new CycleDiffusionException(file + ": file not found");
        }
        Optional<OrtModelCache.Entry> entry = cache.entry(file, settings());
        if (entry.isPresent() && entry.get().present()) {
            try {
                OrtSession cached = create(entry.get().model().toString(), null, OptLevel.NO_OPT, null, file.toString());
                cache.hit();
                mappedFrom.put(file.toAbsolutePath().normalize(), entry.get().dir());
                return cached;
            } catch (CycleDiffusionException e) {
                LOG.log(System.Logger.Level.INFO, file + ": the cached optimised graph " + entry.get().dir() + " does not load ("
                        + e.getMessage() + "); rebuilding it");
                entry.get().invalidate();
            }
        }
        if (entry.isEmpty()) {
            return create(file.toString(), null, OptLevel.ALL_OPT, null, file.toString());
        }
        Path staging;
        try {
            staging = entry.get().stage();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.INFO, file + ": cannot write the optimised graph to the cache (" + e + "); loading without it");
            return create(file.toString(), null, OptLevel.ALL_OPT, null, file.toString());
        }
        OrtSession session;
        try {
            session = create(file.toString(), null, OptLevel.ALL_OPT, staging.resolve(OrtModelCache.MODEL), file.toString());
        } catch (RuntimeException e) {
            OrtModelCache.delete(staging);
            throw e;
        }
        try {
            entry.get().commit(staging);
            cache.wrote();
        } catch (IOException e) {
            OrtModelCache.delete(staging);
            LOG.log(System.Logger.Level.INFO, file + ": cannot store the optimised graph in the cache: " + e);
        }
        return session;
    }

    /**
     * The folders whose files sessions opened over {@code file} map weights from: the model's own
     * folder (its external data, also read by an edited copy such as the clip-skip graph) and the
     * cache entry its session was loaded from, if it was.
     */
    List<Path> mappedFrom(Path file) {
        Path f = file.toAbsolutePath().normalize();
        Path entry = mappedFrom.get(f);
        return entry == null ? List.of(f.getParent()) : List.of(f.getParent(), entry);
    }

    /**
     * A session over an edited copy of a model, held in a direct buffer; external data is looked up
     * in {@code externalDataFolder} (the folder of the original file). Not cached.
     */
    OrtSession open(ByteBuffer model, Path externalDataFolder, String what) {
        return create(null, model, OptLevel.ALL_OPT, null, what, externalDataFolder);
    }

    private OrtSession create(String path, ByteBuffer model, OptLevel level, Path optimizedOut, String what) {
        return create(path, model, level, optimizedOut, what, null);
    }

    private OrtSession create(String path, ByteBuffer bytes, OptLevel level, Path optimizedOut, String what, Path externalDataFolder) {
        OrtEnvironment env = OrtRuntime.environment();
        try (OrtSession.SessionOptions options = options(level, optimizedOut, externalDataFolder)) {
            return OrtNativeCalls.work(what, () -> path != null ? env.createSession(path, options) : env.createSession(bytes, options));
        } catch (OrtException e) {
            throw OrtErrors.load(what, e);
        }
    }

    /** What, besides the model, decides the optimised graph: the cache key's part from the session. */
    String settings() {
        return "opt=all ep=" + (device.isCuda() ? "cuda" : "cpu");
    }

    OrtSession.SessionOptions options(OptLevel level, Path optimizedOut, Path externalDataFolder) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        try {
            options.setOptimizationLevel(level);
            options.setSessionLogLevel(OrtRuntime.startedLogLevel());
            options.setIntraOpNumThreads(tuning.intraOpThreads());
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            // A spinning pool thread busy-waits for work between operators. On a machine whose cores
            // are busy with other work it steals their time and a UNet step can slow down many times
            // (issue 8); the cost on an idle machine is the wake-up latency, small next to a
            // convolution.
            options.addConfigEntry("session.intra_op.allow_spinning", tuning.spinning() ? "1" : "0");
            options.addConfigEntry("session.inter_op.allow_spinning", tuning.spinning() ? "1" : "0");
            // No copies of the weights packed for the CPU's GEMM kernels at session creation: they went into
            // fresh memory (3.6 GB of a full-size SD 1.5, 16.8 s to load from the cache, 9.9 s of it first
            // touches in the kernel), and kept in the cache's data file to be mapped they still cost 2.4 s of
            // packing work per start. Without them the load is 1.2-1.6 s and the kernels pack as they go:
            // a steady-state edit 1.01x, a UNet step 1.01x (README "ONNX Runtime").
            options.addConfigEntry(DISABLE_PREPACKING, "1");
            options.setMemoryPatternOptimization(tuning.memoryPattern());
            options.setCPUArenaAllocator(tuning.arena());
            if (optimizedOut != null) {
                options.setOptimizedModelFilePath(optimizedOut.toString());
                // Initializers go to a file beside the graph: an SD UNet in fp32 is over protobuf's 2 GiB.
                options.addConfigEntry("session.optimized_model_external_initializers_file_name", OrtModelCache.EXTERNAL_DATA);
                options.addConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
            }
            if (externalDataFolder != null) {
                options.addConfigEntry("session.model_external_initializers_file_folder_path", externalDataFolder.toString());
            }
            if (device.isCuda()) {
                options.addCUDA(device.index());
            }
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }
}
