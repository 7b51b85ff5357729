package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.from_blob;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.TensorSource;

/**
 * The weights of one network, read from a memory-mapped safetensors file (or a renamed view of one,
 * a {@link TensorSource}) straight into tensors on the device, never through the Java heap: float32
 * weights that run in float32 on the CPU are {@code from_blob} views of the mapping itself (one
 * resident copy); anything else is converted with a copying {@code to(device, dtype)} and its
 * mapping released at once. The tensors are retained for the life of the model and released, with
 * the mappings they view, by {@link #close()}.
 *
 * <p>Names and shapes are checked against what the network expects before anything is copied:
 * every missing and every unexpected tensor is listed, and the first shape mismatch is named, each
 * with the file.
 */
final class TorchWeights implements AutoCloseable {
    /**
     * Buffers older transformers versions saved with CLIP models and that transformers 4.35 drops on
     * load ({@code position_ids} is recomputed as {@code arange(77)}).
     */
    private static final List<String> IGNORED_SUFFIXES = List.of("embeddings.position_ids");

    /** Set to {@code true} to copy float32 CPU weights instead of using the file's mapping (a file that may change under the process). */
    static final String COPY_PROPERTY = "cyclediffusion.libtorch.copyWeights";

    private final Path file;
    private final Map<String, Tensor> tensors;
    /** Mappings that are the storage of tensors above, by tensor name; unmapped after the tensors are released. */
    private final Map<String, ByteBuffer> mappings;
    private volatile boolean closed;

    private TorchWeights(Path file, Map<String, Tensor> tensors, Map<String, ByteBuffer> mappings) {
        this.file = file;
        this.tensors = tensors;
        this.mappings = mappings;
    }

    /**
     * Loads exactly the expected tensors.
     *
     * @param expected name → shape the network needs
     * @param rename   maps a stored name to the name the network uses (legacy checkpoints), or identity
     * @param dtype    precision on the device (float32 weights stay float32 only if asked)
     */
    static TorchWeights load(TensorSource source, Map<String, long[]> expected, UnaryOperator<String> rename, TorchContext context,
            ScalarType dtype) {
        return load(source, expected, Set.of(), rename, context, dtype);
    }

    /**
     * As {@link #load(TensorSource, Map, UnaryOperator, TorchContext, ScalarType)}, where {@code presentNotLoaded}
     * names tensors the file must hold (any shape) that another part of the program reads itself.
     *
     * <p>{@code source} is closed here. Float32 tensors that stay float32 on the CPU are used in place:
     * the native tensor is a view of the file's read-only mapping, kept mapped until {@link #close()},
     * so the weights are resident once (as clean file pages the kernel may share and reclaim) instead
     * of twice. Everything else (another precision, another device, or {@value #COPY_PROPERTY}=true) is
     * copied, and each mapping is released as soon as its copy exists, so loading never holds a second
     * copy of the file.
     */
    static TorchWeights load(TensorSource source, Map<String, long[]> expected, Set<String> presentNotLoaded, UnaryOperator<String> rename,
            TorchContext context, ScalarType dtype) {
        Path file = source.path();
        try (source) {
            Map<String, SafetensorsFile.TensorInfo> stored = new LinkedHashMap<>();
            Map<String, long[]> found = new LinkedHashMap<>();
            for (SafetensorsFile.TensorInfo info : source.tensors().values()) {
                if (IGNORED_SUFFIXES.stream().anyMatch(info.name()::endsWith)) {
                    continue;
                }
                String name = rename.apply(info.name());
                stored.put(name, info);
                found.put(name, info.shape());
            }
            check(file, found, expected, presentNotLoaded);
            boolean inPlaceAllowed = !context.device().isCuda() && dtype == ScalarType.Float && !Boolean.getBoolean(COPY_PROPERTY);
            Map<String, Tensor> out = new LinkedHashMap<>();
            Map<String, ByteBuffer> mappings = new LinkedHashMap<>();
            try (PointerScope scope = new PointerScope()) {
                for (String name : expected.keySet()) {
                    SafetensorsFile.TensorInfo info = stored.get(name);
                    ScalarType storedType = switch (info.dtype()) {
                        case F32 -> ScalarType.Float;
                        case F16 -> ScalarType.Half;
                        case BF16 -> ScalarType.BFloat16;
                        default -> throw new ConfigException(file + ": tensor '" + info.name() + "' is " + info.dtype()
                                + ", expected a floating-point dtype (F32, F16 or BF16)");
                    };
                    ByteBuffer mapped = source.buffer(info.name());
                    ResidentPages.adviseHugePages(mapped); // before the first read (see there)
                    Tensor view = from_blob(new BytePointer(mapped), info.shape(), new TensorOptions(storedType));
                    if (inPlaceAllowed && storedType == ScalarType.Float && mapped.isDirect()) { // an empty tensor has no mapping
                        out.put(name, view.retainReference());
                        mappings.put(name, mapped); // the tensor's storage: unmapped by close(), after the tensor is released
                    } else {
                        Tensor owned = view.to(context.torchDevice(), dtype, false, true, new MemoryFormatOptional());
                        out.put(name, owned.retainReference());
                        view.close();
                        Mappings.unmap(mapped); // the copy exists: the file's pages need not stay resident
                    }
                }
            } catch (RuntimeException e) {
                out.values().forEach(Tensor::releaseReference);
                mappings.values().forEach(Mappings::unmap);
                if (e instanceof CycleDiffusionException) {
                    throw e;
                }
                throw new CycleDiffusionException(file + ": cannot load weights onto " + context + " (" + e.getMessage() + ")", e);
            }
            return new TorchWeights(file, Collections.unmodifiableMap(out), mappings);
        }
    }

    /**
     * Weights already on the device, e.g. built in memory by a test, checked against
     * {@code expected} exactly as a file's are. The result holds its own handles on the caller's
     * tensors (same storage, no copy), released by {@link #close()}; the caller still closes its
     * own. The tensors must already have the device and dtype the network will run in.
     *
     * @param source named in messages where a file would be
     */
    static TorchWeights of(Path source, Map<String, long[]> expected, Map<String, Tensor> tensors) {
        Map<String, long[]> found = new LinkedHashMap<>();
        tensors.forEach((name, t) -> found.put(name, t.shape()));
        check(source, found, expected);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : expected.keySet()) {
            Tensor handle = new Tensor(tensors.get(name));
            handle.retainReference();
            out.put(name, handle);
        }
        return new TorchWeights(source, Collections.unmodifiableMap(out), Map.of());
    }

    /**
     * The name and shape check shared by every network: all missing names, all unexpected names,
     * then the first shape that differs, each naming the file.
     */
    static void check(Path file, Map<String, long[]> found, Map<String, long[]> expected) {
        check(file, found, expected, Set.of());
    }

    static void check(Path file, Map<String, long[]> found, Map<String, long[]> expected, Set<String> presentNotLoaded) {
        TreeSet<String> missing = new TreeSet<>(expected.keySet());
        missing.addAll(presentNotLoaded);
        missing.removeAll(found.keySet());
        TreeSet<String> unexpected = new TreeSet<>(found.keySet());
        unexpected.removeAll(expected.keySet());
        unexpected.removeAll(presentNotLoaded);
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            List<String> parts = new ArrayList<>();
            if (!missing.isEmpty()) {
                parts.add(missing.size() + " missing tensor(s) " + abbreviate(missing));
            }
            if (!unexpected.isEmpty()) {
                parts.add(unexpected.size() + " unexpected tensor(s) " + abbreviate(unexpected));
            }
            throw new ConfigException(file + ": weights do not match the config beside them: " + String.join("; ", parts)
                    + " (was the file saved for another config?)");
        }
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            long[] f = found.get(e.getKey());
            if (!Arrays.equals(f, e.getValue())) {
                throw new ConfigException(file + ": tensor '" + e.getKey() + "' has shape " + Arrays.toString(f) + ", the config implies "
                        + Arrays.toString(e.getValue()));
            }
        }
    }

    private static String abbreviate(TreeSet<String> names) {
        List<String> list = new ArrayList<>(names);
        return list.size() <= 20 ? list.toString() : list.subList(0, 20) + " and " + (list.size() - 20) + " more";
    }

    Path file() {
        return file;
    }

    Tensor get(String name) {
        if (closed) {
            throw new CycleDiffusionException(file + ": weights closed");
        }
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(file + ": no weight '" + name + "' was loaded");
        }
        return t;
    }

    /** All loaded tensors by name (what the UNet's builder takes). */
    Map<String, Tensor> asMap() {
        return tensors;
    }

    /**
     * Drops the resident pages of the mapped weights whose names pass {@code names} (see
     * {@link ResidentPages}); the tensors stay valid and read the same bytes when next used. Copied
     * weights (another dtype or device, or {@value #COPY_PROPERTY}) have no file behind them and are
     * kept. Under the lock of {@link #close()}: a range is never advised after it was unmapped, when
     * the addresses may already belong to other memory.
     *
     * @return the bytes of mapping advised (0 when closed, copied, or not possible on this platform)
     */
    synchronized long releaseResident(Predicate<String> names) {
        if (closed) {
            return 0;
        }
        List<ByteBuffer> chosen = new ArrayList<>();
        for (Map.Entry<String, ByteBuffer> e : mappings.entrySet()) {
            if (names.test(e.getKey())) {
                chosen.add(e.getValue());
            }
        }
        return ResidentPages.release(chosen);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            tensors.values().forEach(Tensor::releaseReference);
            // Every network has closed its own handles first (TorchComponent closes in reverse order), so no tensor views the pages.
            mappings.values().forEach(Mappings::unmap);
        }
    }
}
