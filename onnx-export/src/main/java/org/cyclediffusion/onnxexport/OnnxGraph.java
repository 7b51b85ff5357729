package org.cyclediffusion.onnxexport;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.io.ProtobufWriter;

/**
 * An ONNX graph being built, then written as {@code model.onnx} with its large initializers in
 * {@code model.onnx_data} beside it (ONNX external data: {@code data_location = EXTERNAL},
 * {@code location}/{@code offset}/{@code length}), so that no protobuf comes near its 2 GiB limit
 * and ONNX Runtime can map the weights instead of parsing them.
 *
 * <p>Node and tensor names follow torch.onnx's: a node is named by the module scope it belongs to
 * ({@code /text_model/encoder/layers.3/Add_1}), its output {@code <node>_output_0}, weights keep
 * their state-dict names. The backend's clip skip finds layer outputs by those scopes.
 *
 * <p>Written as IR 7 with the default domain at opset 14, as {@code optimum-cli export onnx} does
 * with torch 1.13 (the fixture {@code tiny-sd-onnx}), and ONNX Runtime's {@value #MS_DOMAIN} at
 * version 1 when a node uses it ({@link #msOp}).
 */
final class OnnxGraph {
    static final int IR_VERSION = 7;
    static final int OPSET = 14;
    /** ONNX Runtime's contrib operators ({@code MultiHeadAttention}), imported at version 1 when a node uses them. */
    static final String MS_DOMAIN = "com.microsoft";
    static final String EXTERNAL_DATA = "model.onnx_data";
    /** Initializers from this size on go to the external data file (onnx's own default threshold). */
    private static final int EXTERNAL_THRESHOLD = 1024;
    /** Offsets in the data file are page aligned, so that a reader can map each tensor in place. */
    private static final int ALIGNMENT = 4096;

    // TensorProto.DataType
    static final int FLOAT = 1;
    static final int INT64 = 7;
    static final int BOOL = 9;

    /** An attribute of a node (AttributeProto). */
    record Attr(ProtobufWriter proto) {
        static Attr i(String name, long v) {
            return new Attr(new ProtobufWriter().string(1, name).varint(3, v).varint(20, 2));
        }

        static Attr f(String name, float v) {
            return new Attr(new ProtobufWriter().string(1, name).fixed32(2, v).varint(20, 1));
        }

        static Attr s(String name, String v) {
            return new Attr(new ProtobufWriter().string(1, name).string(4, v).varint(20, 3));
        }

        static Attr ints(String name, long... v) {
            ProtobufWriter p = new ProtobufWriter().string(1, name);
            for (long x : v) {
                p.varint(8, x);
            }
            return new Attr(p.varint(20, 7));
        }
    }

    /** Little-endian bytes of one initializer, produced when the file is written (weights are not held on the heap). */
    private record Initializer(String name, int dataType, long[] dims, long byteSize, Supplier<ByteBuffer> data) {
    }

    private final String name;
    private final List<ProtobufWriter> nodes = new ArrayList<>();
    private final List<Initializer> initializers = new ArrayList<>();
    private final Map<String, Initializer> initializerByName = new HashMap<>();
    private final List<ProtobufWriter> inputs = new ArrayList<>();
    private final List<ProtobufWriter> outputs = new ArrayList<>();
    private final Map<String, Integer> nodeCounts = new HashMap<>();
    private boolean msDomain;

    OnnxGraph(String name) {
        this.name = name;
    }

    /**
     * torch.onnx's scope of a module: state-dict prefix {@code down_blocks.0.resnets.1.norm1} is
     * {@code /down_blocks.0/resnets.1/norm1} (a dot before a list index stays a dot).
     */
    static String scope(String prefix) {
        if (prefix.isEmpty()) {
            return "";
        }
        StringBuilder s = new StringBuilder("/");
        for (int i = 0; i < prefix.length(); i++) {
            char c = prefix.charAt(i);
            boolean index = c == '.' && i + 1 < prefix.length() && Character.isDigit(prefix.charAt(i + 1));
            s.append(c == '.' && !index ? '/' : c);
        }
        return s.toString();
    }

    /** Adds node {@code opType} in the module {@code prefix}; returns its one output. */
    String op(String prefix, String opType, List<String> in, Attr... attrs) {
        return ops(prefix, opType, 1, in, attrs).get(0);
    }

    String op(String prefix, String opType, String... in) {
        return op(prefix, opType, List.of(in));
    }

    /** Adds a node with {@code outputCount} outputs, named {@code <node>_output_k}. */
    List<String> ops(String prefix, String opType, int outputCount, List<String> in, Attr... attrs) {
        String base = scope(prefix) + "/" + opType;
        int k = nodeCounts.merge(base, 1, Integer::sum) - 1;
        String node = k == 0 ? base : base + "_" + k;
        List<String> out = new ArrayList<>();
        for (int i = 0; i < outputCount; i++) {
            out.add(node + "_output_" + i);
        }
        add(node, opType, in, out, attrs);
        return out;
    }

    /** Adds ONNX Runtime's contrib operator {@code opType} ({@value #MS_DOMAIN}) in the module {@code prefix}; returns its one output. */
    String msOp(String prefix, String opType, List<String> in, Attr... attrs) {
        String base = scope(prefix) + "/" + opType;
        int k = nodeCounts.merge(base, 1, Integer::sum) - 1;
        String node = k == 0 ? base : base + "_" + k;
        String out = node + "_output_0";
        add(node, opType, in, List.of(out), attrs);
        nodes.get(nodes.size() - 1).string(7, MS_DOMAIN);
        msDomain = true;
        return out;
    }

    /** Adds a node whose one output has a given name (a graph output). */
    void opNamed(String prefix, String output, String opType, List<String> in, Attr... attrs) {
        String base = scope(prefix) + "/" + opType;
        int k = nodeCounts.merge(base, 1, Integer::sum) - 1;
        add(k == 0 ? base : base + "_" + k, opType, in, List.of(output), attrs);
    }

    private void add(String node, String opType, List<String> in, List<String> out, Attr... attrs) {
        ProtobufWriter p = new ProtobufWriter();
        in.forEach(i -> p.string(1, i));
        out.forEach(o -> p.string(2, o));
        p.string(3, node).string(4, opType);
        for (Attr a : attrs) {
            p.message(5, a.proto());
        }
        nodes.add(p);
    }

    /** An int64 1-D constant (shapes, axes, indices), named in {@code prefix}'s scope. */
    String ints(String prefix, long... values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return constant(prefix, INT64, new long[] {values.length}, b.flip());
    }

    /** A float32 constant of shape {@code dims} (empty: a scalar). */
    String floats(String prefix, long[] dims, float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return constant(prefix, FLOAT, dims, b.flip());
    }

    /** An int64 scalar (rank 0), e.g. the index of a Gather that drops its axis. */
    String longScalar(String prefix, long value) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value);
        return constant(prefix, INT64, new long[0], b.flip());
    }

    String scalar(String prefix, float value) {
        return floats(prefix, new long[0], value);
    }

    private String constant(String prefix, int type, long[] dims, ByteBuffer data) {
        String base = scope(prefix) + "/Constant";
        int k = nodeCounts.merge(base, 1, Integer::sum) - 1;
        String tensor = (k == 0 ? base : base + "_" + k) + "_output_0";
        ByteBuffer copy = data.asReadOnlyBuffer();
        initializer(tensor, type, dims, data.remaining(), copy::duplicate);
        return tensor;
    }

    /** A float32 weight whose bytes {@code data} supplies when the file is written. */
    String weight(String tensor, long[] dims, Supplier<ByteBuffer> data) {
        if (!initializerByName.containsKey(tensor)) {
            initializer(tensor, FLOAT, dims, 4 * Arrays.stream(dims).reduce(1, (a, b) -> a * b), data);
        }
        return tensor;
    }

    private void initializer(String tensor, int type, long[] dims, long bytes, Supplier<ByteBuffer> data) {
        Initializer i = new Initializer(tensor, type, dims.clone(), bytes, data);
        if (initializerByName.putIfAbsent(tensor, i) != null) {
            throw new IllegalStateException("initializer " + tensor + " added twice");
        }
        initializers.add(i);
    }

    /** A graph input; each dim is an Integer (fixed) or a String (a named dynamic axis). */
    void input(String tensor, int type, Object... dims) {
        inputs.add(valueInfo(tensor, type, dims));
    }

    void output(String tensor, int type, Object... dims) {
        outputs.add(valueInfo(tensor, type, dims));
    }

    private static ProtobufWriter valueInfo(String tensor, int type, Object... dims) {
        ProtobufWriter shape = new ProtobufWriter();
        for (Object d : dims) {
            ProtobufWriter dim = d instanceof Integer v ? new ProtobufWriter().varint(1, v) : new ProtobufWriter().string(2, (String) d);
            shape.message(1, dim);
        }
        ProtobufWriter tensorType = new ProtobufWriter().varint(1, type).message(2, shape);
        return new ProtobufWriter().string(1, tensor).message(2, new ProtobufWriter().message(1, tensorType));
    }

    int nodeCount() {
        return nodes.size();
    }

    /** Writes {@code dir/model.onnx} and, when any initializer is large, {@code dir/model.onnx_data}. */
    void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        ProtobufWriter graph = new ProtobufWriter();
        nodes.forEach(n -> graph.message(1, n));
        graph.string(2, name);
        Path dataFile = dir.resolve(EXTERNAL_DATA);
        boolean external = initializers.stream().anyMatch(i -> i.byteSize() >= EXTERNAL_THRESHOLD);
        try (FileChannel data = external ? FileChannel.open(dataFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING) : null) {
            long offset = 0;
            for (Initializer i : initializers) {
                ProtobufWriter t = new ProtobufWriter();
                for (long d : i.dims()) {
                    t.varint(1, d);
                }
                t.varint(2, i.dataType()).string(8, i.name());
                ByteBuffer bytes = i.data().get();
                if (bytes.remaining() != i.byteSize()) {
                    throw new CycleDiffusionException(i.name() + ": " + bytes.remaining() + " bytes, expected " + i.byteSize()
                            + " for shape " + Arrays.toString(i.dims()));
                }
                if (i.byteSize() >= EXTERNAL_THRESHOLD) {
                    offset = (offset + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
                    long at = offset;
                    while (bytes.hasRemaining()) {
                        offset += data.write(bytes, offset);
                    }
                    t.message(13, entry("location", EXTERNAL_DATA))
                            .message(13, entry("offset", Long.toString(at)))
                            .message(13, entry("length", Long.toString(i.byteSize())))
                            .varint(14, 1);
                } else {
                    byte[] raw = new byte[bytes.remaining()];
                    bytes.get(raw);
                    t.bytes(9, raw);
                }
                graph.message(5, t);
            }
        }
        if (!external) {
            Files.deleteIfExists(dataFile);
        }
        inputs.forEach(v -> graph.message(11, v));
        outputs.forEach(v -> graph.message(12, v));
        ProtobufWriter model = new ProtobufWriter()
                .varint(1, IR_VERSION)
                .string(2, "cyclediffusion-onnx-export")
                .message(7, graph)
                .message(8, new ProtobufWriter().string(1, "").varint(2, OPSET));
        if (msDomain) {
            model.message(8, new ProtobufWriter().string(1, MS_DOMAIN).varint(2, 1));
        }
        try (OutputStream out = Files.newOutputStream(dir.resolve("model.onnx"))) {
            out.write(model.toByteArray());
        }
    }

    private static ProtobufWriter entry(String key, String value) {
        return new ProtobufWriter().string(1, key).string(2, value);
    }
}
