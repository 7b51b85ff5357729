package org.cyclediffusion.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.io.HalfFloats;

/**
 * The parts of an ONNX {@code ModelProto} we need to edit a graph: its nodes (name, op, inputs,
 * outputs), its declared outputs with their element types, and where each initializer's data is.
 * Field numbers are those of {@code onnx/onnx.proto}. The file is memory-mapped; initializer data
 * stays in the mapping until asked for.
 */
final class OrtOnnxGraph {
    // ModelProto
    static final int MODEL_GRAPH = 7;
    // GraphProto
    static final int GRAPH_NODE = 1;
    static final int GRAPH_INITIALIZER = 5;
    static final int GRAPH_INPUT = 11;
    static final int GRAPH_OUTPUT = 12;
    // NodeProto
    private static final int NODE_INPUT = 1;
    private static final int NODE_OUTPUT = 2;
    private static final int NODE_NAME = 3;
    private static final int NODE_OP_TYPE = 4;
    // ValueInfoProto / TypeProto / TypeProto.Tensor
    static final int VALUE_INFO_NAME = 1;
    static final int VALUE_INFO_TYPE = 2;
    static final int TYPE_TENSOR = 1;
    static final int TENSOR_TYPE_ELEM_TYPE = 1;
    // TensorProto
    private static final int TENSOR_DIMS = 1;
    private static final int TENSOR_DATA_TYPE = 2;
    private static final int TENSOR_FLOAT_DATA = 4;
    private static final int TENSOR_INT32_DATA = 5;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_RAW_DATA = 9;
    private static final int TENSOR_EXTERNAL_DATA = 13;
    private static final int TENSOR_DATA_LOCATION = 14;
    // TensorProto.DataType
    static final int FLOAT = 1;
    static final int FLOAT16 = 10;
    static final int BFLOAT16 = 16;

    record Node(String name, String opType, List<String> inputs, List<String> outputs) {
    }

    private final Path file;
    private final MappedByteBuffer mapped;
    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Integer> inputElemTypes = new LinkedHashMap<>();
    private final Map<String, Integer> outputElemTypes = new LinkedHashMap<>();
    private final Map<String, ByteBuffer> initializers = new LinkedHashMap<>();

    private OrtOnnxGraph(Path file, MappedByteBuffer mapped) {
        this.file = file;
        this.mapped = mapped;
    }

    static OrtOnnxGraph read(Path file) {
        MappedByteBuffer mapped;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() > Integer.MAX_VALUE) {
                throw new CycleDiffusionException(file + ": larger than 2 GiB, which an ONNX protobuf cannot be (weights over 2 GiB live in external data)");
            }
            mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
        } catch (IOException e) {
            throw new CycleDiffusionException(file + ": cannot read: " + e.getMessage(), e);
        }
        OrtOnnxGraph g = new OrtOnnxGraph(file, mapped);
        try {
            g.parseModel(mapped.duplicate());
        } catch (IllegalArgumentException e) {
            throw new CycleDiffusionException(file + ": not a readable ONNX model: " + e.getMessage(), e);
        }
        return g;
    }

    Path file() {
        return file;
    }

    /** The whole file, read-only. */
    ByteBuffer bytes() {
        return mapped.duplicate();
    }

    List<Node> nodes() {
        return nodes;
    }

    /** Declared graph inputs with their ONNX element type (0 when the file does not say). */
    Map<String, Integer> inputElemTypes() {
        return inputElemTypes;
    }

    /** Declared graph outputs with their ONNX element type (0 when the file does not say). */
    Map<String, Integer> outputElemTypes() {
        return outputElemTypes;
    }

    boolean hasInitializer(String name) {
        return initializers.containsKey(name);
    }

    /** A float initializer (float32, float16 or bfloat16; inline or external data) as float32 values. */
    float[] floatInitializer(String name) {
        ByteBuffer proto = initializers.get(name);
        if (proto == null) {
            throw new CycleDiffusionException(file + ": no initializer named '" + name + "'");
        }
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        ByteBuffer raw = null;
        List<Float> floatData = new ArrayList<>();
        List<Integer> int32Data = new ArrayList<>();
        Map<String, String> external = new LinkedHashMap<>();
        boolean isExternal = false;
        OrtProtoReader r = new OrtProtoReader(proto.duplicate());
        while (r.next()) {
            switch (r.field()) {
                case TENSOR_DIMS -> readInts(r, dims);
                case TENSOR_DATA_TYPE -> dataType = (int) r.readVarint();
                case TENSOR_RAW_DATA -> raw = r.readBytes();
                case TENSOR_FLOAT_DATA -> {
                    if (r.wireType() == OrtProtoReader.LEN) {
                        ByteBuffer b = r.readBytes().order(ByteOrder.LITTLE_ENDIAN);
                        while (b.remaining() >= 4) {
                            floatData.add(b.getFloat());
                        }
                    } else {
                        r.skip(); // unpacked float_data is not written by any exporter we know
                    }
                }
                case TENSOR_INT32_DATA -> {
                    List<Long> v = new ArrayList<>();
                    readInts(r, v);
                    v.forEach(x -> int32Data.add(x.intValue()));
                }
                case TENSOR_EXTERNAL_DATA -> {
                    OrtProtoReader e = new OrtProtoReader(r.readBytes());
                    String key = null;
                    String value = null;
                    while (e.next()) {
                        if (e.field() == 1) {
                            key = e.readString();
                        } else if (e.field() == 2) {
                            value = e.readString();
                        } else {
                            e.skip();
                        }
                    }
                    external.put(key, value);
                }
                case TENSOR_DATA_LOCATION -> isExternal = r.readVarint() == 1;
                default -> r.skip();
            }
        }
        long count = dims.stream().reduce(1L, (a, b) -> a * b);
        if (isExternal) {
            raw = readExternal(name, external, count * (dataType == FLOAT ? 4 : 2));
        }
        float[] out = new float[Math.toIntExact(count)];
        if (raw != null) {
            raw.order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < out.length; i++) {
                out[i] = switch (dataType) {
                    case FLOAT -> raw.getFloat(4 * i);
                    case FLOAT16 -> HalfFloats.halfToFloat(raw.getShort(2 * i));
                    case BFLOAT16 -> HalfFloats.bfloat16ToFloat(raw.getShort(2 * i));
                    default -> throw unsupportedType(name, dataType);
                };
            }
        } else if (dataType == FLOAT && floatData.size() == out.length) {
            for (int i = 0; i < out.length; i++) {
                out[i] = floatData.get(i);
            }
        } else if ((dataType == FLOAT16 || dataType == BFLOAT16) && int32Data.size() == out.length) {
            for (int i = 0; i < out.length; i++) {
                short bits = (short) (int) int32Data.get(i);
                out[i] = dataType == FLOAT16 ? HalfFloats.halfToFloat(bits) : HalfFloats.bfloat16ToFloat(bits);
            }
        } else {
            throw dataType == FLOAT || dataType == FLOAT16 || dataType == BFLOAT16
                    ? new CycleDiffusionException(file + ": initializer '" + name + "' holds no data for its " + count + " elements")
                    : unsupportedType(name, dataType);
        }
        return out;
    }

    private CycleDiffusionException unsupportedType(String name, int dataType) {
        return new CycleDiffusionException(file + ": initializer '" + name + "' has ONNX data type " + dataType
                + ", expected float32 (1), float16 (10) or bfloat16 (16)");
    }

    private ByteBuffer readExternal(String name, Map<String, String> external, long bytes) {
        String location = external.get("location");
        if (location == null) {
            throw new CycleDiffusionException(file + ": initializer '" + name + "' is external but names no location");
        }
        Path data = file.resolveSibling(location);
        long offset = Long.parseLong(external.getOrDefault("offset", "0"));
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(bytes));
            while (b.hasRemaining()) {
                if (ch.read(b, offset + b.position()) < 0) {
                    throw new CycleDiffusionException(data + ": ends before the " + bytes + " bytes of initializer '" + name + "' at offset " + offset);
                }
            }
            return b.flip();
        } catch (IOException e) {
            throw new CycleDiffusionException(data + ": cannot read the external data of initializer '" + name + "': " + e.getMessage(), e);
        }
    }

    private static void readInts(OrtProtoReader r, List<Long> out) {
        if (r.wireType() == OrtProtoReader.LEN) {
            OrtProtoReader packed = new OrtProtoReader(r.readBytes());
            while (packed.hasMore()) {
                out.add(packed.rawVarint());
            }
        } else {
            out.add(r.readVarint());
        }
    }

    private void parseModel(ByteBuffer model) {
        OrtProtoReader r = new OrtProtoReader(model);
        boolean sawGraph = false;
        while (r.next()) {
            if (r.field() == MODEL_GRAPH && r.wireType() == OrtProtoReader.LEN) {
                parseGraph(r.readBytes());
                sawGraph = true;
            } else {
                r.skip();
            }
        }
        if (!sawGraph) {
            throw new IllegalArgumentException("no graph");
        }
    }

    private void parseGraph(ByteBuffer graph) {
        OrtProtoReader r = new OrtProtoReader(graph);
        while (r.next()) {
            switch (r.field()) {
                case GRAPH_NODE -> nodes.add(parseNode(r.readBytes()));
                case GRAPH_INITIALIZER -> {
                    ByteBuffer t = r.readBytes();
                    initializers.put(tensorName(t.duplicate()), t);
                }
                case GRAPH_INPUT -> parseValueInfo(r.readBytes(), inputElemTypes);
                case GRAPH_OUTPUT -> parseValueInfo(r.readBytes(), outputElemTypes);
                default -> r.skip();
            }
        }
    }

    private static Node parseNode(ByteBuffer b) {
        OrtProtoReader r = new OrtProtoReader(b);
        List<String> in = new ArrayList<>();
        List<String> out = new ArrayList<>();
        String name = "";
        String op = "";
        while (r.next()) {
            switch (r.field()) {
                case NODE_INPUT -> in.add(r.readString());
                case NODE_OUTPUT -> out.add(r.readString());
                case NODE_NAME -> name = r.readString();
                case NODE_OP_TYPE -> op = r.readString();
                default -> r.skip();
            }
        }
        return new Node(name, op, in, out);
    }

    private static void parseValueInfo(ByteBuffer b, Map<String, Integer> elemTypes) {
        OrtProtoReader r = new OrtProtoReader(b);
        String name = null;
        int elemType = 0;
        while (r.next()) {
            if (r.field() == VALUE_INFO_NAME) {
                name = r.readString();
            } else if (r.field() == VALUE_INFO_TYPE) {
                OrtProtoReader t = new OrtProtoReader(r.readBytes());
                while (t.next()) {
                    if (t.field() == TYPE_TENSOR) {
                        OrtProtoReader tt = new OrtProtoReader(t.readBytes());
                        while (tt.next()) {
                            if (tt.field() == TENSOR_TYPE_ELEM_TYPE) {
                                elemType = (int) tt.readVarint();
                            } else {
                                tt.skip();
                            }
                        }
                    } else {
                        t.skip();
                    }
                }
            } else {
                r.skip();
            }
        }
        if (name != null) {
            elemTypes.put(name, elemType);
        }
    }

    private static String tensorName(ByteBuffer t) {
        OrtProtoReader r = new OrtProtoReader(t);
        while (r.next()) {
            if (r.field() == TENSOR_NAME) {
                return r.readString();
            }
            r.skip();
        }
        return "";
    }
}
