package org.cyclediffusion.core.precision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Fingerprints;
import org.cyclediffusion.core.spi.PrecisionProbe;
import org.cyclediffusion.core.spi.PrecisionProbe.Trial;

/**
 * {@code --dtype auto}: the fastest precision whose UNet output stays within {@link #TOLERANCE} of
 * float32's on this machine, measured once and remembered.
 *
 * <p>The backend's {@link PrecisionProbe} runs the UNet at a small probe shape in float32 and in
 * each reduced precision it supports on the device, {@value #REPETITIONS} timed runs each (the
 * fastest counts). A candidate qualifies when its max |Δ| from the float32 output is at most
 * {@link #TOLERANCE} of the float32 output's range (max − min). 2% is about twice what a correct
 * bfloat16 UNet measures (0.8–1.1% of range on the tiny UNets, under AVX2, AVX512-BF16 and AMX;
 * float16 0.1–0.2%) and a tenth of what the precision defect of issue 8 gave (22%): it admits
 * bfloat16's rounding and rejects a broken kernel path. Among the qualifying ones, including
 * float32, the fastest wins, but a reduced precision must beat float32 by {@link #MIN_SPEEDUP}
 * (timing noise on a shared machine is ~5%): it costs accuracy, so a tie goes to float32, the
 * default and the only precision with diffusers parity. A candidate whose warm-up run alone takes
 * {@link #GIVE_UP} times fp32's fastest run is not timed further (it cannot win; fp16 convolutions on a
 * CPU without AVX512-FP16 take minutes at full size).
 *
 * <p>The decision is cached in a JSON file (by default {@code ~/.cache/cyclediffusion/dtype-auto.json})
 * under a key made of the CPU (model name and flags), the probe's fingerprint (backend, version,
 * device, kernel settings), the UNet's config and weights files (each shard of a sharded one), the
 * device and this policy's numbers.
 */
public final class AutoDType {
    /** A candidate's max |Δ| from float32, as a fraction of float32's output range. */
    public static final double TOLERANCE = 0.02;
    /** How much faster than float32 (time ratio) a reduced precision must be to be chosen. */
    public static final double MIN_SPEEDUP = 1.10;
    /** Timed runs per precision (after one warm-up); the fastest counts. */
    public static final int REPETITIONS = 3;
    /** A candidate whose warm-up run is this many times slower than fp32's fastest run is not timed further. */
    public static final double GIVE_UP = 4;
    /** The system property that moves the cache file (tests). */
    public static final String CACHE_PROPERTY = "cyclediffusion.dtype-auto.cache";

    private static final ObjectMapper JSON = new ObjectMapper();

    private AutoDType() {
    }

    /** Whether a {@code --dtype} value asks for {@code auto} (any case, surrounding blanks ignored); false for null. */
    public static boolean requested(String dtype) {
        return dtype != null && dtype.trim().equalsIgnoreCase("auto");
    }

    /** One candidate as measured: time, error relative to float32's range, whether it qualified. */
    public record Measured(DType dtype, double seconds, boolean warmUpOnly, double relativeError, boolean withinTolerance) {
    }

    /** The chosen precision and the sentence that says why. */
    public record Decision(DType dtype, String reason, boolean cached) {
        /** The one line the CLI prints. */
        public String line() {
            return "dtype auto: " + dtype.shortName() + " (" + reason + (cached ? "; cached decision" : "") + ")";
        }
    }

    /**
     * The policy, on measurements: fp32 {@code reference}, then the candidates. Pure (no I/O).
     */
    public static Decision choose(Trial reference, List<Trial> candidates, double tolerance, double minSpeedup) {
        float[] ref = reference.output().data();
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : ref) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        double range = max - min;
        List<Measured> measured = new ArrayList<>();
        DType best = DType.FLOAT32;
        double bestSeconds = reference.seconds();
        for (Trial t : candidates) {
            double err = relativeError(t.output().data(), ref, range);
            boolean ok = err <= tolerance;
            measured.add(new Measured(t.dtype(), t.seconds(), t.warmUpOnly(), err, ok));
            if (ok && reference.seconds() / t.seconds() >= minSpeedup && t.seconds() < bestSeconds) {
                best = t.dtype();
                bestSeconds = t.seconds();
            }
        }
        StringBuilder why = new StringBuilder(String.format(Locale.ROOT, "UNet probe: fp32 %.3f s", reference.seconds()));
        for (Measured m : measured) {
            why.append(String.format(Locale.ROOT, "; %s %.3f s%s, max |Δ| %.2f%% of range%s", m.dtype().shortName(), m.seconds(),
                    m.warmUpOnly() ? " (warm-up only)" : "", 100 * m.relativeError(), m.withinTolerance() ? "" : " (over)"));
        }
        why.append(String.format(Locale.ROOT, "; tolerance %.0f%%, a reduced type must be %.2fx faster", 100 * tolerance, minSpeedup));
        return new Decision(best, why.toString(), false);
    }

    private static double relativeError(float[] actual, float[] expected, double range) {
        if (actual.length != expected.length) {
            return Double.POSITIVE_INFINITY;
        }
        double max = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = Math.abs((double) actual[i] - expected[i]);
            if (Double.isNaN(d)) {
                return Double.POSITIVE_INFINITY;
            }
            max = Math.max(max, d);
        }
        return range > 0 ? max / range : (max == 0 ? 0 : Double.POSITIVE_INFINITY);
    }

    /**
     * Resolves {@code auto} for a backend, folder and device: the cached decision if there is one for
     * this machine, backend and model, else measures (loading the UNet once per precision) and caches.
     * A backend without a probe gets its default precision.
     */
    public static Decision resolve(BackendProvider backend, ModelFolder folder, Device device, Path cacheFile) {
        Optional<PrecisionProbe> maybe = backend.precisionProbe(folder, device);
        if (maybe.isEmpty()) {
            return new Decision(backend.defaultDType(folder, device), backend.name() + " takes the precision from the model files", false);
        }
        try (PrecisionProbe probe = maybe.get()) {
            String key = key(probe, folder, device);
            ObjectNode cache = readCache(cacheFile);
            JsonNode hit = cache.get(key);
            if (hit != null && hit.has("dtype") && hit.has("reason")) {
                try {
                    return new Decision(DType.parse(hit.get("dtype").asText()), hit.get("reason").asText(), true);
                } catch (IllegalArgumentException stale) {
                    // an entry written by another version: measure again
                }
            }
            Trial reference = probe.run(DType.FLOAT32, REPETITIONS, Double.POSITIVE_INFINITY);
            List<Trial> trials = new ArrayList<>();
            for (DType d : probe.candidates()) {
                if (d != DType.FLOAT32) {
                    // a warm-up (which includes first-call kernel setup) 4x slower than fp32's best cannot win
                    trials.add(probe.run(d, REPETITIONS, GIVE_UP * reference.seconds()));
                }
            }
            Decision decision = choose(reference, trials, TOLERANCE, MIN_SPEEDUP);
            ObjectNode entry = cache.putObject(key);
            entry.put("dtype", decision.dtype().shortName());
            entry.put("reason", decision.reason());
            entry.put("backend", probe.fingerprint());
            entry.put("model", folder.toString());
            writeCache(cacheFile, cache);
            return decision;
        }
    }

    /** {@code $XDG_CACHE_HOME/cyclediffusion/dtype-auto.json}, else under {@code ~/.cache}; {@value #CACHE_PROPERTY} overrides. */
    public static Path defaultCacheFile() {
        String override = System.getProperty(CACHE_PROPERTY);
        if (override != null && !override.isBlank()) {
            return Path.of(override);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return cache.resolve("cyclediffusion").resolve("dtype-auto.json");
    }

    static String key(PrecisionProbe probe, ModelFolder folder, Device device) {
        StringBuilder k = new StringBuilder();
        k.append("cpu=").append(cpuIdentity()).append('\n');
        k.append("backend=").append(probe.fingerprint()).append('\n');
        k.append("device=").append(device).append('\n');
        k.append("unet=").append(Fingerprints.config("UNet", folder.config("unet", "config.json").node())).append('\n');
        // every file the UNet is read from (a shard index and each shard), so re-saving any of them measures again
        List<Path> weights = folder.checkpoint().isPresent() ? List.of() : folder.weightFiles("unet", "diffusion_pytorch_model.safetensors");
        if (weights.isEmpty()) {
            k.append("weights=").append(folder.toString()).append('\n');
        }
        for (Path w : weights) {
            k.append("weights=").append(fileIdentity(w)).append('\n');
        }
        k.append(String.format(Locale.ROOT, "policy=tolerance %s speedup %s reps %d", TOLERANCE, MIN_SPEEDUP, REPETITIONS));
        return sha256(k.toString());
    }

    /** The CPU's model name and feature flags (Linux), which decide the kernels; elsewhere the architecture and core count. */
    static String cpuIdentity() {
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (Files.isReadable(cpuinfo)) {
            try (Stream<String> lines = Files.lines(cpuinfo)) {
                List<String> first = lines.filter(l -> l.startsWith("model name") || l.startsWith("flags")).limit(2).toList();
                if (!first.isEmpty()) {
                    return String.join(" | ", first);
                }
            } catch (IOException | UncheckedIOException e) {
                // fall through to what the JVM knows
            }
        }
        return System.getProperty("os.arch") + " x" + Runtime.getRuntime().availableProcessors();
    }

    private static String fileIdentity(Path file) {
        try {
            return file.toAbsolutePath() + " " + Files.size(file) + " bytes " + Files.getLastModifiedTime(file);
        } catch (IOException e) {
            return file.toAbsolutePath().toString();
        }
    }

    private static ObjectNode readCache(Path file) {
        if (Files.isRegularFile(file)) {
            try {
                JsonNode n = JSON.readTree(file.toFile());
                if (n instanceof ObjectNode o) {
                    return o;
                }
            } catch (IOException e) {
                // a damaged cache is measured again and rewritten
            }
        }
        return JSON.createObjectNode();
    }

    private static void writeCache(Path file, ObjectNode cache) {
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            // written beside and moved into place: a concurrent reader sees the old or the new file, never half of one
            Path tmp = Files.createTempFile(dir, "dtype-auto", ".tmp");
            Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cache), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // the decision still holds for this run; it is measured again next time
            System.getLogger(AutoDType.class.getName()).log(System.Logger.Level.WARNING, "dtype auto: cannot write " + file + ": " + e);
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is a required algorithm of every Java platform", e);
        }
    }
}
