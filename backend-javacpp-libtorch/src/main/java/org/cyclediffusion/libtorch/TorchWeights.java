package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.from_blob;

import java.lang.ref.Reference;
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
 * {@link TensorSource}) straight into tensors on
 * the device: each tensor is a {@code from_blob} view over the mapped bytes, converted with a
 * copying {@code to(device, dtype)} so the result owns its memory, and nothing passes through the
 * Java heap. The tensors are retained for the life of the model and released by {@link #close()}.
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

    private final Path file;
    private final Map<String, Tensor> tensors;
    private volatile boolean closed;

    private TorchWeights(Path file, Map<String, Tensor> tensors) {
        this.file = file;
        this.tensors = tensors;
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
     */
    static TorchWeights load(TensorSource source, Map<String, long[]> expected, Set<String> presentNotLoaded, UnaryOperator<String> rename,
            TorchContext context, ScalarType dtype) {
        Path file = source.path();
        try (TensorSource st = source) {
            Map<String, String> storedName = new LinkedHashMap<>();
            Map<String, long[]> found = new LinkedHashMap<>();
            for (SafetensorsFile.TensorInfo info : st.tensors().values()) {
                if (IGNORED_SUFFIXES.stream().anyMatch(info.name()::endsWith)) {
                    continue;
                }
                String name = rename.apply(info.name());
                storedName.put(name, info.name());
                found.put(name, info.shape());
            }
            check(file, found, expected, presentNotLoaded);
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (PointerScope scope = new PointerScope()) {
                for (String name : expected.keySet()) {
                    SafetensorsFile.TensorInfo info = st.info(storedName.get(name));
                    ScalarType stored = switch (info.dtype()) {
                        case F32 -> ScalarType.Float;
                        case F16 -> ScalarType.Half;
                        case BF16 -> ScalarType.BFloat16;
                        default -> throw new ConfigException(file + ": tensor '" + info.name() + "' is " + info.dtype()
                                + ", expected a floating-point dtype (F32, F16 or BF16)");
                    };
                    ByteBuffer mapped = st.buffer(info.name());
                    BytePointer bytes = new BytePointer(mapped);
                    Tensor view = from_blob(bytes, info.shape(), new TensorOptions(stored));
                    Tensor owned = view.to(context.torchDevice(), dtype, false, true, new MemoryFormatOptional());
                    owned.retainReference();
                    out.put(name, owned);
                    // The mapping must stay reachable (not unmapped by the GC) until the copy above has read it.
                    Reference.reachabilityFence(mapped);
                }
            } catch (RuntimeException e) {
                out.values().forEach(Tensor::releaseReference);
                if (e instanceof CycleDiffusionException) {
                    throw e;
                }
                throw new CycleDiffusionException(file + ": cannot load weights onto " + context + " (" + e.getMessage() + ")", e);
            }
            return new TorchWeights(file, Collections.unmodifiableMap(out));
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
        return new TorchWeights(source, Collections.unmodifiableMap(out));
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

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            tensors.values().forEach(Tensor::releaseReference);
        }
    }
}
