package org.cyclediffusion.onnx;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.cyclediffusion.core.io.ProtobufWriter;
import org.cyclediffusion.core.testing.Fixtures;

/**
 * Builds the exporter variants of the fixtures README §3 table from {@code tiny-sd-onnx} by editing
 * the ONNX protobuf: a new graph input with another type, rank or name feeding the original graph
 * through a few standard nodes (Cast, ReduceMax, Split), or weights moved to an external data
 * file. The networks inside are the fixture's own, so the goldens still apply.
 */
final class OrtTestExports {
    // ONNX TensorProto.DataType
    static final int FLOAT = 1;
    static final int INT32 = 6;
    static final int INT64 = 7;
    static final int FLOAT16 = 10;

    private OrtTestExports() {
    }

    /** A copy of tiny-sd-onnx in {@code dir}: every file symlinked, then the caller replaces some. */
    static Path linkedCopy(Path dir) {
        Path src = Fixtures.model("tiny-sd-onnx");
        try (Stream<Path> files = Files.walk(src)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path target = dir.resolve(src.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(target);
                } else {
                    Files.createSymbolicLink(target, f);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /**
     * Makes {@code dir}'s UNet an fp16 export: fp16 inputs and output cast around the fixture's fp32
     * network, so the conversion at the boundary is what a test sees.
     */
    static void float16UNet(Path dir) {
        replace(dir, "unet", g -> g
                .replaceInput("sample", FLOAT16, "batch", 4, "height", "width")
                .renameNodeInputs("sample", "sample_f32")
                .prependNode("Cast", List.of("sample"), List.of("sample_f32"), "to", FLOAT)
                .replaceInput("encoder_hidden_states", FLOAT16, "batch", "sequence", 32)
                .renameNodeInputs("encoder_hidden_states", "hidden_f32")
                .prependNode("Cast", List.of("encoder_hidden_states"), List.of("hidden_f32"), "to", FLOAT)
                .replaceInput("timestep", FLOAT16)
                .renameNodeInputs("timestep", "timestep_f32")
                .prependNode("Cast", List.of("timestep"), List.of("timestep_f32"), "to", FLOAT)
                .renameNodeOutputs("out_sample", "out_sample_f32")
                .appendNode("Cast", List.of("out_sample_f32"), List.of("out_sample"), "to", FLOAT16)
                .replaceOutput("out_sample", "out_sample", FLOAT16, "batch", 4, "height", "width"));
    }

    /** Moves the initializers of {@code dir/component/model.onnx} to the external data file {@code dataFile} beside it. */
    static void externalize(Path dir, String component, String dataFile) {
        replace(dir, component, g -> {
            try {
                g.externalizeInitializers(dataFile);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Replaces {@code dir/component/model.onnx} by an edit of the fixture's model. */
    static void replace(Path dir, String component, Consumer<Graph> edit) {
        Path original = Fixtures.model("tiny-sd-onnx").resolve(component).resolve("model.onnx");
        Path target = dir.resolve(component).resolve("model.onnx");
        try {
            Files.deleteIfExists(target);
            Graph g = Graph.read(original, target);
            edit.accept(g);
            Files.write(target, g.model());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    record Field(int number, int wireType, long varint, byte[] bytes) {
        void write(ProtobufWriter w) {
            if (wireType == OrtProtoReader.VARINT) {
                w.varint(number, varint);
            } else {
                w.bytes(number, bytes);
            }
        }
    }

    static List<Field> fields(ByteBuffer b) {
        List<Field> out = new ArrayList<>();
        OrtProtoReader r = new OrtProtoReader(b);
        while (r.next()) {
            switch (r.wireType()) {
                case OrtProtoReader.VARINT -> out.add(new Field(r.field(), OrtProtoReader.VARINT, r.readVarint(), null));
                case OrtProtoReader.LEN -> {
                    ByteBuffer v = r.readBytes();
                    byte[] bytes = new byte[v.remaining()];
                    v.get(bytes);
                    out.add(new Field(r.field(), OrtProtoReader.LEN, 0, bytes));
                }
                default -> throw new IllegalArgumentException("fixed-width field " + r.field() + " in a message we rewrite");
            }
        }
        return out;
    }

    static String string(Field f) {
        return new String(f.bytes(), java.nio.charset.StandardCharsets.UTF_8);
    }

    /** An editable GraphProto inside its ModelProto. */
    static final class Graph {
        private final List<Field> modelFields;
        private final List<Field> graphFields;
        private final Path target;
        private final List<byte[]> prepended = new ArrayList<>();

        private Graph(List<Field> modelFields, List<Field> graphFields, Path target) {
            this.modelFields = modelFields;
            this.graphFields = graphFields;
            this.target = target;
        }

        static Graph read(Path file, Path target) throws IOException {
            List<Field> model = fields(ByteBuffer.wrap(Files.readAllBytes(file)));
            Field graph = model.stream().filter(f -> f.number() == OrtOnnxGraph.MODEL_GRAPH).findFirst().orElseThrow();
            return new Graph(model, new ArrayList<>(fields(ByteBuffer.wrap(graph.bytes()))), target);
        }

        /** Declares graph input {@code name} anew (type, dims) and feeds its old consumers from {@code produces} instead. */
        Graph replaceInput(String name, int elemType, Object... dims) {
            replaceValueInfo(11, name, valueInfo(name, elemType, dims));
            return this;
        }

        /** Replaces declared output {@code oldName} by {@code name} (type, dims). */
        Graph replaceOutput(String oldName, String name, int elemType, Object... dims) {
            replaceValueInfo(12, oldName, valueInfo(name, elemType, dims));
            return this;
        }

        private void replaceValueInfo(int field, String name, byte[] info) {
            for (int i = 0; i < graphFields.size(); i++) {
                Field f = graphFields.get(i);
                if (f.number() == field && valueInfoName(f.bytes()).equals(name)) {
                    graphFields.set(i, new Field(field, OrtProtoReader.LEN, 0, info));
                    return;
                }
            }
            throw new IllegalArgumentException("no graph " + (field == 11 ? "input" : "output") + " named " + name);
        }

        /** Every node input named {@code from} reads {@code to} instead. */
        Graph renameNodeInputs(String from, String to) {
            return renameInNodes(1, from, to);
        }

        /** The node output named {@code from} is called {@code to} instead. */
        Graph renameNodeOutputs(String from, String to) {
            return renameInNodes(2, from, to);
        }

        private Graph renameInNodes(int field, String from, String to) {
            for (int i = 0; i < graphFields.size(); i++) {
                Field f = graphFields.get(i);
                if (f.number() != OrtOnnxGraph.GRAPH_NODE) {
                    continue;
                }
                ProtobufWriter w = new ProtobufWriter();
                for (Field nf : fields(ByteBuffer.wrap(f.bytes()))) {
                    if (nf.number() == field && string(nf).equals(from)) {
                        w.string(field, to);
                    } else {
                        nf.write(w);
                    }
                }
                graphFields.set(i, new Field(f.number(), OrtProtoReader.LEN, 0, w.toByteArray()));
            }
            return this;
        }

        /** Adds a node before all others; {@code intAttrs} are name/value pairs of INT attributes. */
        Graph prependNode(String op, List<String> inputs, List<String> outputs, Object... intAttrs) {
            prepended.add(node(op, inputs, outputs, intAttrs));
            return this;
        }

        /** Adds a node after all others. */
        Graph appendNode(String op, List<String> inputs, List<String> outputs, Object... intAttrs) {
            graphFields.add(new Field(OrtOnnxGraph.GRAPH_NODE, OrtProtoReader.LEN, 0, node(op, inputs, outputs, intAttrs)));
            return this;
        }

        /** Moves every initializer's raw data into {@code fileName} beside the model (ONNX external data). */
        Graph externalizeInitializers(String fileName) throws IOException {
            Path data = target.resolveSibling(fileName);
            long offset = 0;
            try (var out = Files.newOutputStream(data)) {
                for (int i = 0; i < graphFields.size(); i++) {
                    Field f = graphFields.get(i);
                    if (f.number() != OrtOnnxGraph.GRAPH_INITIALIZER) {
                        continue;
                    }
                    List<Field> tensor = fields(ByteBuffer.wrap(f.bytes()));
                    Field raw = tensor.stream().filter(t -> t.number() == 9).findFirst().orElse(null);
                    if (raw == null) {
                        continue;
                    }
                    ProtobufWriter w = new ProtobufWriter();
                    for (Field t : tensor) {
                        if (t != raw) {
                            t.write(w);
                        }
                    }
                    w.message(13, new ProtobufWriter().string(1, "location").string(2, fileName));
                    w.message(13, new ProtobufWriter().string(1, "offset").string(2, Long.toString(offset)));
                    w.message(13, new ProtobufWriter().string(1, "length").string(2, Long.toString(raw.bytes().length)));
                    w.varint(14, 1);
                    out.write(raw.bytes());
                    offset += raw.bytes().length;
                    graphFields.set(i, new Field(f.number(), OrtProtoReader.LEN, 0, w.toByteArray()));
                }
            }
            return this;
        }

        byte[] model() {
            ProtobufWriter graph = new ProtobufWriter();
            for (byte[] n : prepended) {
                graph.bytes(OrtOnnxGraph.GRAPH_NODE, n);
            }
            graphFields.forEach(f -> f.write(graph));
            ProtobufWriter model = new ProtobufWriter();
            for (Field f : modelFields) {
                if (f.number() == OrtOnnxGraph.MODEL_GRAPH) {
                    model.message(OrtOnnxGraph.MODEL_GRAPH, graph);
                } else {
                    f.write(model);
                }
            }
            return model.toByteArray();
        }

        private static String valueInfoName(byte[] info) {
            return fields(ByteBuffer.wrap(info)).stream().filter(f -> f.number() == 1).map(OrtTestExports::string).findFirst().orElse("");
        }
    }

    static byte[] valueInfo(String name, int elemType, Object... dims) {
        ProtobufWriter shape = new ProtobufWriter();
        for (Object d : dims) {
            ProtobufWriter dim = new ProtobufWriter();
            if (d instanceof String s) {
                dim.string(2, s);
            } else {
                dim.varint(1, ((Number) d).longValue());
            }
            shape.message(1, dim);
        }
        ProtobufWriter tensor = new ProtobufWriter().varint(1, elemType).message(2, shape);
        ProtobufWriter type = new ProtobufWriter().message(1, tensor);
        return new ProtobufWriter().string(1, name).message(2, type).toByteArray();
    }

    static byte[] node(String op, List<String> inputs, List<String> outputs, Object... intAttrs) {
        ProtobufWriter w = new ProtobufWriter();
        inputs.forEach(i -> w.string(1, i));
        outputs.forEach(o -> w.string(2, o));
        w.string(3, "test_" + op + "_" + outputs.get(0));
        w.string(4, op);
        for (int i = 0; i < intAttrs.length; i += 2) {
            // AttributeProto: name = 1, i = 3, type = 20 (INT = 2)
            w.message(5, new ProtobufWriter().string(1, (String) intAttrs[i]).varint(3, ((Number) intAttrs[i + 1]).longValue()).varint(20, 2));
        }
        return w.toByteArray();
    }
}
