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
import java.util.Set;
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
 * any is loaded, so {@code $ORIGIN} always resolves; (2) load them by absolute path in dependency
 * order ({@code gomp, c10, torch_cpu}, the CUDA pair, then {@code torch}), so each later
 * {@code DT_NEEDED} entry is satisfied by a library already in the process and no search path is
 * consulted; (3) only then let JavaCPP load its JNI library; (4) check {@code /proc/self/maps}
 * that no LibTorch from outside the cache was mapped.
 */
public final class TorchNatives {
    private static final System.Logger LOG = System.getLogger(TorchNatives.class.getName());

    /** Dependency order: each library's DT_NEEDED entries come before it. */
    private static final List<String> ORDER = List.of("gomp", "c10", "torch_cpu", "c10_cuda", "torch_cuda", "torch");

    private static volatile boolean loaded;
    private static volatile boolean cudaBuild;

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
                Loader.load(torch);
                cudaBuild = ours.stream().anyMatch(f -> f.contains("torch_cuda"));
            } catch (UnsatisfiedLinkError | RuntimeException e) {
                throw new CycleDiffusionException("cannot load the LibTorch natives of org.bytedeco:pytorch ("
                        + e.getMessage() + "); the class path needs org.bytedeco:pytorch with the classifier of this platform ("
                        + Loader.getPlatform() + ")", e);
            }
            checkNoForeignLibTorch();
            loaded = true;
        }
    }

    /** Whether the natives loaded are the CUDA build ({@code linux-x86_64-gpu}); call after {@link #load()}. */
    static boolean isCudaBuild() {
        return cudaBuild;
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
     * path in {@link #ORDER}. Libraries not bundled for this platform (e.g. the CUDA pair in the CPU
     * build) are skipped. Returns the files loaded.
     */
    private static List<String> preloadInOrder(Class<?> global) {
        Class<?> cls = Loader.getEnclosingClass(global);
        ClassProperties p = Loader.loadProperties(cls, Loader.loadProperties(), true);
        Set<String> names = new LinkedHashSet<>(p.get("platform.preload"));
        names.addAll(p.get("platform.link"));
        List<String> sorted = new ArrayList<>();
        for (String order : ORDER) {
            for (String n : names) {
                if (baseName(n).equals(order)) {
                    sorted.add(n);
                }
            }
        }
        for (String n : names) {
            if (!sorted.contains(n)) {
                sorted.add(n);
            }
        }
        List<URL[]> bundled = new ArrayList<>();
        for (String n : sorted) {
            URL[] urls = Loader.findLibrary(cls, p, n, false);
            List<URL> inJar = new ArrayList<>();
            for (URL u : urls) {
                if (!"file".equals(u.getProtocol())) {
                    try {
                        Loader.cacheResource(u); // (1): extracted before anything is loaded
                        inJar.add(u);
                    } catch (IOException e) {
                        throw new CycleDiffusionException("cannot extract " + u + " into the JavaCPP cache (" + e.getMessage()
                                + "); set -Dorg.bytedeco.javacpp.cachedir to a writable directory", e);
                    }
                }
            }
            bundled.add(inJar.toArray(new URL[0]));
        }
        List<String> loadedFiles = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i++) {
            if (bundled.get(i).length == 0) {
                continue; // not in this build (only system copies could match): never load those
            }
            String f = Loader.loadLibrary(cls, bundled.get(i), sorted.get(i), loadedFiles.toArray(new String[0]));
            if (f != null) {
                loadedFiles.add(f);
            }
        }
        return loadedFiles;
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
