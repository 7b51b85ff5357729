package org.cyclediffusion.libtorch;

import java.io.File;
import java.io.IOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.javacpp.ClassProperties;
import org.bytedeco.javacpp.Loader;
import org.cyclediffusion.core.CycleDiffusionException;

/**
 * Loads the LibTorch natives bundled in {@code org.bytedeco:pytorch} once per JVM, in a way that
 * cannot pick up a system LibTorch.
 *
 * <p>Why this exists: JavaCPP extracts and loads the preset's libraries one at a time in the order
 * {@code c10, torch, torch_cpu}. {@code libtorch.so} is a stub whose only dependency is
 * {@code libtorch_cpu.so}, found through {@code RUNPATH=$ORIGIN}. On the very first run the cache
 * does not hold {@code libtorch_cpu.so} yet when the stub loads, so the dynamic linker falls back
 * to {@code LD_LIBRARY_PATH} and {@code /etc/ld.so.cache}: with Debian's {@code libtorch-dev}
 * installed it maps the system 1.13 {@code libtorch_cpu.so} (and its {@code libc10.so.1.13}) into a
 * process that already holds the bundled 2.10 {@code libc10.so}, and the JVM dies with SIGSEGV
 * inside {@code System.load}. With the system library on {@code LD_LIBRARY_PATH} it happens on
 * every run, since that path is searched before {@code RUNPATH}.
 *
 * <p>What we do instead: (1) extract every library the preset names into the JavaCPP cache before
 * any is loaded, so {@code $ORIGIN} always resolves; (2) load them by absolute path, first what
 * LibTorch depends on (OpenBLAS, in the GPU build the CUDA runtime) as JavaCPP would, then
 * LibTorch's own in dependency order ({@code gomp, c10, torch_cpu}, the CUDA pair, {@code torch})
 * from the bundle only, so each later {@code DT_NEEDED} entry is satisfied by a library already in
 * the process and no search path is consulted; (3) only then let JavaCPP load its JNI library;
 * (4) check {@code /proc/self/maps} that no LibTorch from outside the cache was mapped.
 */
public final class TorchNatives {
    private static final System.Logger LOG = System.getLogger(TorchNatives.class.getName());

    /** Dependency order: each library's DT_NEEDED entries come before it. */
    private static final List<String> ORDER = List.of("gomp", "c10", "torch_cpu", "c10_cuda", "torch_cuda", "torch");
    /**
     * What the JNI library needs; the rest may fail (in the GPU build, {@code torch_cuda} without
     * cuBLAS, and the {@code libtorch.so} stub that links it) and LibTorch still runs on the CPU.
     */
    private static final Set<String> REQUIRED = Set.of("c10", "torch_cpu");

    /** Libraries that failed to load, by base name, with the dynamic linker's message. */
    private static final Map<String, String> FAILURES = new ConcurrentHashMap<>();

    private static volatile boolean loaded;
    private static volatile boolean cudaLoaded;

    private TorchNatives() {
    }

    /** Loads the natives (idempotent, thread-safe) and fails with a message, never a crash, on a bad setup. */
    public static void load() {
        if (loaded) {
            return;
        }
        synchronized (TorchNatives.class) {
            if (loaded) {
                return;
            }
            List<String> foreign = systemLibTorch();
            if (!foreign.isEmpty()) {
                LOG.log(System.Logger.Level.DEBUG, "a system LibTorch is visible to the dynamic linker (" + foreign
                        + "); loading the bundled one by absolute path so it is not used");
            }
            try {
                Class<?> openblas = org.bytedeco.openblas.global.openblas.class;
                Class<?> torch = org.bytedeco.pytorch.global.torch.class;
                preloadInOrder(openblas);
                Loader.load(openblas);
                List<String> ours = preloadInOrder(torch);
                refuseSystemFallback();
                Loader.load(torch);
                cudaLoaded = ours.stream().anyMatch(f -> f.contains("libtorch_cuda"));
            } catch (CycleDiffusionException e) {
                throw e;
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                throw new CycleDiffusionException("cannot load the LibTorch natives of org.bytedeco:pytorch ("
                        + e.getMessage() + "); the class path needs org.bytedeco:pytorch with the classifier of this platform ("
                        + Loader.getPlatform() + ")", e);
            }
            checkNoForeignLibTorch();
            disableNnpack();
            String coreType = OpenBlasCoreType.warning();
            if (coreType != null) {
                LOG.log(System.Logger.Level.WARNING, coreType);
            }
            loaded = true;
        }
    }

    /**
     * Switches NNPACK off for the process, before any convolution asks for it. LibTorch consults
     * NNPACK for a convolution that oneDNN does not take ({@code use_nnpack}: the user flag, then
     * {@code _nnpack_available()}); on a CPU where NNPACK's initialisation fails (AMD EPYC in a VM:
     * "Unsupported hardware") every such call logs "Could not initialize NNPACK!" again, thousands
     * of times per edit. NNPACK would only ever run batches of 16 or more ({@code input.size(0) >= 16});
     * our UNet batch is at most 4 per image pair, so it is never the kernel we lose: clearing the
     * user flag short-circuits the check before NNPACK is touched, on every CPU.
     */
    private static void disableNnpack() {
        org.bytedeco.pytorch.global.torch.globalContext().setUserEnabledNNPACK(false);
    }

    /** Whether LibTorch's CUDA library was loaded (the GPU build, with its CUDA dependencies found); after {@link #load()}. */
    static boolean cudaLoaded() {
        return cudaLoaded;
    }

    /** Why {@code torch_cuda} (or what it needs) did not load, when the GPU build is on the class path but CUDA is unusable. */
    static String cudaLoadFailure() {
        for (String lib : List.of("c10_cuda", "torch_cuda")) {
            if (FAILURES.containsKey(lib)) {
                return FAILURES.get(lib);
            }
        }
        return null;
    }

    /**
     * Whether the class path carries the CUDA natives, by resource lookup only (no native code is
     * loaded, so discovery can call it).
     */
    static boolean cudaNativesOnClassPath() {
        String platform = Loader.getPlatform();
        ClassLoader cl = TorchNatives.class.getClassLoader();
        return cl.getResource("org/bytedeco/pytorch/" + platform + "-gpu/libtorch_cuda.so") != null
                || cl.getResource("org/bytedeco/pytorch/" + platform + "-gpu/torch_cuda.dll") != null;
    }

    /**
     * Extracts every preload/link library of a preset into the cache, then loads them by absolute
     * path: first, in the preset's order, the libraries LibTorch depends on (OpenBLAS, the CUDA
     * runtime), then LibTorch's own in {@link #ORDER}. LibTorch's own are only ever taken from the
     * bundle; the others may come from JavaCPP's search paths, as {@link Loader#load} would take
     * them (cuBLAS or cuDNN from a CUDA install). A library that fails to load is remembered and
     * skipped, as JavaCPP does with preloads; the JNI library then decides what is required.
     */
    private static List<String> preloadInOrder(Class<?> global) {
        Class<?> cls = Loader.getEnclosingClass(global);
        ClassProperties p = Loader.loadProperties(cls, Loader.loadProperties(), true);
        Set<String> names = new LinkedHashSet<>(p.get("platform.preload"));
        names.addAll(p.get("platform.link"));
        List<String> sorted = new ArrayList<>();
        for (String n : names) {
            if (!ORDER.contains(baseName(n))) {
                sorted.add(n);
            }
        }
        for (String order : ORDER) {
            for (String n : names) {
                if (baseName(n).equals(order)) {
                    sorted.add(n);
                }
            }
        }
        List<URL[]> candidates = new ArrayList<>();
        for (String n : sorted) {
            boolean ours = ORDER.contains(baseName(n));
            List<URL> urls = new ArrayList<>();
            for (URL u : Loader.findLibrary(cls, p, n, false)) {
                if (!"file".equals(u.getProtocol())) {
                    cached(u); // (1): extracted before anything is loaded
                    urls.add(u);
                } else if (!ours) {
                    urls.add(u);
                }
            }
            candidates.add(urls.toArray(new URL[0]));
        }
        List<String> loadedFiles = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i++) {
            String name = sorted.get(i);
            String base = baseName(name);
            if (candidates.get(i).length == 0) {
                continue; // not in this build, or (for LibTorch's own) only a system copy: never load that
            }
            if (ORDER.contains(base)) {
                // LibTorch's own, from the bundle only. Loader.loadLibrary would fall back to
                // System.loadLibrary on failure, i.e. to java.library.path, where Debian keeps its
                // libtorch_cpu.so: load the extracted file ourselves and keep the linker's message.
                String file = cached(candidates.get(i)[0]);
                try {
                    System.load(file);
                    loadedFiles.add(file);
                } catch (UnsatisfiedLinkError e) {
                    FAILURES.putIfAbsent(base, firstLine(e.getMessage()));
                    if (REQUIRED.contains(base)) {
                        throw new CycleDiffusionException("cannot load the bundled " + file + " (" + firstLine(e.getMessage()) + ")", e);
                    }
                }
                continue;
            }
            try {
                String f = Loader.loadLibrary(cls, candidates.get(i), name, loadedFiles.toArray(new String[0]));
                if (f != null) {
                    loadedFiles.add(f);
                }
            } catch (UnsatisfiedLinkError e) {
                FAILURES.putIfAbsent(base, firstLine(e.getMessage()));
            }
        }
        return loadedFiles;
    }

    private static String cached(URL url) {
        try {
            return Loader.cacheResource(url).getAbsolutePath();
        } catch (IOException e) {
            throw new CycleDiffusionException("cannot extract " + url + " into the JavaCPP cache (" + e.getMessage()
                    + "); set -Dorg.bytedeco.javacpp.cachedir to a writable directory", e);
        }
    }

    private static String firstLine(String s) {
        return s == null ? "(no message)" : s.lines().findFirst().orElse(s);
    }

    /**
     * When the bundled {@code libtorch.so} stub did not load (the GPU build without its CUDA
     * libraries), {@link Loader#load} retries it with {@code System.loadLibrary("torch")}, which
     * searches {@code java.library.path}: a Debian {@code libtorch.so} there links the system 1.13
     * {@code libtorch_cpu} and the JVM crashes. Fail with the reason instead.
     */
    private static void refuseSystemFallback() {
        if (!FAILURES.containsKey("torch")) {
            return;
        }
        for (String dir : System.getProperty("java.library.path", "").split(File.pathSeparator)) {
            Path candidate = dir.isBlank() ? null : Paths.get(dir, System.mapLibraryName("torch"));
            if (candidate != null && Files.exists(candidate)) {
                throw new CycleDiffusionException("the bundled LibTorch stub did not load (" + FAILURES.get("torch") + ") and JavaCPP"
                        + " would fall back to the system " + candidate + ", which crashes the JVM; with the GPU natives (-Pcuda) install"
                        + " the CUDA libraries they need (" + cudaLoadFailure() + "), or build without -Pcuda");
            }
        }
    }

    /** {@code gomp@.1} → {@code gomp}; {@code c10!} → {@code c10}; {@code a:b} keeps {@code a}. */
    private static String baseName(String libnameversion) {
        String s = libnameversion;
        int colon = s.indexOf(':');
        if (colon > 0) {
            s = s.substring(0, colon);
        }
        s = s.replace("!", "");
        int at = s.indexOf('@');
        if (at >= 0) {
            s = s.substring(0, at);
        }
        int hash = s.indexOf('#');
        return hash >= 0 ? s.substring(0, hash) : s;
    }

    /** Copies of {@code libtorch_cpu.so} the dynamic linker could find on its own. */
    static List<String> systemLibTorch() {
        Set<String> dirs = new LinkedHashSet<>();
        String ldPath = System.getenv("LD_LIBRARY_PATH");
        if (ldPath != null) {
            for (String d : ldPath.split(File.pathSeparator)) {
                if (!d.isBlank()) {
                    dirs.add(d);
                }
            }
        }
        dirs.addAll(List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"));
        List<String> found = new ArrayList<>();
        for (String d : dirs) {
            Path dir = Paths.get(d);
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (var files = Files.list(dir)) {
                files.map(Path::getFileName).map(Path::toString).filter(n -> n.startsWith("libtorch_cpu.so"))
                        .forEach(n -> found.add(dir.resolve(n).toString()));
            } catch (IOException | SecurityException e) {
                // an unreadable directory cannot hold what we worry about
            }
        }
        // Debian's libtorch-dev is found through /etc/ld.so.cache: its path strings are stored verbatim.
        try {
            String cache = new String(Files.readAllBytes(Paths.get("/etc/ld.so.cache")), java.nio.charset.StandardCharsets.ISO_8859_1);
            for (int i = cache.indexOf("/libtorch_cpu.so"); i >= 0; i = cache.indexOf("/libtorch_cpu.so", i + 1)) {
                int start = cache.lastIndexOf('\0', i) + 1;
                int end = cache.indexOf('\0', i);
                String path = cache.substring(start, end < 0 ? cache.length() : end);
                if (path.startsWith("/") && !found.contains(path)) {
                    found.add(path);
                }
            }
        } catch (IOException | SecurityException e) {
            // no cache, nothing found through it
        }
        return found;
    }

    /** (4): every c10/torch library mapped into the process must come from the JavaCPP cache. */
    private static void checkNoForeignLibTorch() {
        Path maps = Paths.get("/proc/self/maps");
        if (!Files.isReadable(maps)) {
            return;
        }
        String cache;
        try {
            cache = Loader.getCacheDir().getCanonicalPath();
            Set<String> foreign = new LinkedHashSet<>();
            for (String line : Files.readAllLines(maps)) {
                int slash = line.indexOf('/');
                if (slash < 0) {
                    continue;
                }
                String file = line.substring(slash).trim();
                String name = file.substring(file.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
                boolean torchLib = name.startsWith("libtorch") || name.startsWith("libc10");
                if (torchLib && !file.startsWith(cache) && !file.startsWith(new File(cache).getAbsolutePath())) {
                    foreign.add(file);
                }
            }
            if (!foreign.isEmpty()) {
                throw new CycleDiffusionException("a LibTorch from outside the JavaCPP cache " + cache + " was loaded: " + foreign
                        + "; the bundled LibTorch 2.10 cannot run with it. Remove that directory from LD_LIBRARY_PATH"
                        + " (or uninstall the system libtorch) and retry");
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot check /proc/self/maps: " + e.getMessage());
        }
    }
}
