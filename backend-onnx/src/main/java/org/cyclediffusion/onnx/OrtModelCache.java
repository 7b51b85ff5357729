package org.cyclediffusion.onnx;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Optimised ONNX graphs kept between runs. ONNX Runtime optimises a graph each time a session is
 * created (constant folding, fusions, the CPU's blocked layouts): 85 s of an SD 1.5 start. The
 * first start asks ONNX Runtime to also write the optimised graph
 * ({@code SessionOptions.setOptimizedModelFilePath}); later starts load that file with graph
 * optimisation off, since the work is already in it.
 *
 * <p>An entry is keyed by everything that decides the optimised graph: the model file's real path,
 * and the name, size and modification time of every file in its folder (the model and its external
 * data), ONNX Runtime's version, the optimisation level, the execution provider and the CPU (the
 * blocked layouts depend on its vector width). A change of any of them gives another key; the entry
 * of the old key for the same model file is deleted when the new one is written. Entries are
 * written into a staging folder and renamed into place, so a reader never sees half an entry,
 * and an entry that does not load is deleted and rebuilt. Large initializers go to an external data
 * file beside the entry's graph, so models over protobuf's 2 GiB (SD's fp32 UNet) are cached too.
 *
 * <p>Where: {@value #DIR_PROPERTY}, else {@code $}{@value #DIR_ENV}, else
 * {@code $XDG_CACHE_HOME/cyclediffusion/ort}, else {@code ~/.cache/cyclediffusion/ort}; the value
 * {@code off} turns the cache off. Graphs built in memory (the clip-skip copy of the text encoder)
 * are not cached: they are made on demand and are cheap next to the UNet.
 */
final class OrtModelCache {
    static final String DIR_PROPERTY = "cyclediffusion.ort.cache";
    static final String DIR_ENV = "CYCLEDIFFUSION_ORT_CACHE";
    static final String MODEL = "model.onnx";
    static final String EXTERNAL_DATA = "model.onnx.data";
    private static final String KEY_FILE = "key.txt";
    private static final String STAGING = ".staging-";
    /** Bumped when the layout of an entry changes. */
    private static final String FORMAT = "cyclediffusion ort cache 1";
    private static final System.Logger LOG = System.getLogger(OrtModelCache.class.getName());

    private final Path root;
    private final java.util.concurrent.atomic.AtomicInteger hits = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger writes = new java.util.concurrent.atomic.AtomicInteger();

    private OrtModelCache(Path root) {
        this.root = root;
    }

    /** Sessions loaded from a cached graph, and graphs written, by this cache object (for tests and logs). */
    int hits() {
        return hits.get();
    }

    int writes() {
        return writes.get();
    }

    void hit() {
        hits.incrementAndGet();
    }

    void wrote() {
        writes.incrementAndGet();
    }

    static OrtModelCache at(Path root) {
        return new OrtModelCache(root);
    }

    static OrtModelCache disabled() {
        return new OrtModelCache(null);
    }

    /** The cache the user configured (see the class comment). */
    static OrtModelCache configured() {
        return configured(System.getProperty(DIR_PROPERTY), System.getenv(DIR_ENV), System.getenv("XDG_CACHE_HOME"),
                System.getProperty("user.home"));
    }

    static OrtModelCache configured(String property, String env, String xdg, String home) {
        String value = property;
        if (value == null || value.isBlank()) {
            value = env;
        }
        if (value != null && !value.isBlank()) {
            String v = value.trim();
            return switch (v.toLowerCase(Locale.ROOT)) {
                case "off", "none", "false", "0" -> disabled();
                default -> at(Path.of(v));
            };
        }
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(home, ".cache");
        return at(base.resolve("cyclediffusion").resolve("ort"));
    }

    boolean enabled() {
        return root != null;
    }

    Optional<Path> root() {
        return Optional.ofNullable(root);
    }

    /**
     * The entry of {@code model} under session {@code settings} (optimisation level, execution
     * provider), or empty when the cache is off or the model's files cannot be read.
     */
    Optional<Entry> entry(Path model, String settings) {
        if (root == null) {
            return Optional.empty();
        }
        try {
            Path real = model.toRealPath();
            List<String> key = new ArrayList<>();
            key.add(FORMAT);
            key.add("onnxruntime " + OrtRuntime.version());
            key.add("settings " + settings);
            key.add("cpu " + cpuIdentity());
            key.add("model " + real);
            // The folder as given (a hub snapshot's folder of symlinks, not the blob store they point into).
            try (Stream<Path> files = Files.list(model.toAbsolutePath().normalize().getParent())) {
                for (Path f : files.sorted().toList()) {
                    BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                    if (a.isRegularFile()) {
                        key.add("file " + f.getFileName() + " " + a.size() + " " + a.lastModifiedTime().toInstant());
                    }
                }
            }
            String text = String.join("\n", key) + "\n";
            Path source = root.resolve(sha256(real.toString()).substring(0, 16));
            return Optional.of(new Entry(source, source.resolve(sha256(text).substring(0, 32)), text));
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, model + ": not cached (" + e + ")");
            return Optional.empty();
        }
    }

    /** One optimised graph in the cache: {@code dir/model.onnx}, its external data, and its key in words. */
    record Entry(Path sourceDir, Path dir, String key) {
        Path model() {
            return dir.resolve(MODEL);
        }

        /** Whether a complete entry with this very key is there. */
        boolean present() {
            try {
                return Files.isRegularFile(model()) && key.equals(Files.readString(dir.resolve(KEY_FILE), StandardCharsets.UTF_8));
            } catch (IOException e) {
                return false;
            }
        }

        /** A new staging folder for this entry (in the same file system, so the final rename is atomic). */
        Path stage() throws IOException {
            Files.createDirectories(sourceDir);
            Path staging = Files.createTempDirectory(sourceDir, STAGING + ProcessHandle.current().pid() + "-");
            Files.writeString(staging.resolve(KEY_FILE), key, StandardCharsets.UTF_8);
            return staging;
        }

        /**
         * Moves a staged entry into place; another process that got there first wins (its entry has
         * the same key), and ours is dropped. Entries of older keys of the same model go.
         */
        void commit(Path staging) throws IOException {
            try {
                Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException | AtomicMoveNotSupportedException e) {
                delete(staging);
                if (!present()) {
                    throw e;
                }
            }
            pruneSiblings();
        }

        /** Deletes this entry (it did not load). */
        void invalidate() {
            delete(dir);
        }

        /** Entries of this model under other keys, and staging folders of processes that are gone. */
        private void pruneSiblings() throws IOException {
            try (Stream<Path> siblings = Files.list(sourceDir)) {
                for (Path s : siblings.toList()) {
                    String name = s.getFileName().toString();
                    if (s.equals(dir) || (name.startsWith(STAGING) && stagerAlive(name))) {
                        continue;
                    }
                    delete(s);
                }
            }
        }

        private static boolean stagerAlive(String stagingName) {
            String rest = stagingName.substring(STAGING.length());
            int dash = rest.indexOf('-');
            try {
                long pid = Long.parseLong(dash < 0 ? rest : rest.substring(0, dash));
                return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
            } catch (NumberFormatException e) {
                return false;
            }
        }
    }

    /** Deletes a file or folder tree, as far as it can (what is left is logged at DEBUG). */
    static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot delete " + dir + ": " + e);
        }
    }

    /**
     * The CPU, as far as it decides an optimised graph: architecture, and on Linux the model name
     * and feature flags of {@code /proc/cpuinfo} (AVX2 and AVX-512 machines get different blocked
     * layouts).
     */
    static String cpuIdentity() {
        StringBuilder id = new StringBuilder(System.getProperty("os.arch", "?"));
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (Files.isReadable(cpuinfo)) {
            try (Stream<String> lines = Files.lines(cpuinfo)) {
                lines.filter(l -> l.startsWith("model name") || l.startsWith("flags") || l.startsWith("Features")).distinct()
                        .forEach(l -> id.append('|').append(l.replaceAll("\\s+", " ")));
            } catch (IOException | java.io.UncheckedIOException e) {
                // architecture alone
            }
        }
        return sha256(id.toString()).substring(0, 16);
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
