package org.cyclediffusion.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.cyclediffusion.core.io.ProtobufWriter;

/**
 * A larger ONNX graph than the tiny fixtures, made with no download: a stack of SD-like residual
 * blocks ({@code Conv → +bias → SiLU → Conv → +bias → +residual}) with seeded random weights.
 * ONNX Runtime's optimiser has real work on it (Conv+Add fusion, the CPU's blocked layouts with
 * their weight reorders), which is what the optimised-graph cache saves at a later start.
 */
final class OrtSyntheticModel {
    private static final int FLOAT = 1;

    private OrtSyntheticModel() {
    }

    /** Writes {@code file}: input {@code x} [1, channels, side, side], output {@code y} of the same shape. */
    static void write(Path file, int blocks, int channels, int side, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        ProtobufWriter graph = new ProtobufWriter();
        String x = "x";
        float scale = (float) (1.0 / Math.sqrt(9.0 * channels));
        for (int b = 0; b < blocks; b++) {
            String p = "block" + b;
            String h = x;
            for (int c = 0; c < 2; c++) {
                String w = p + ".conv" + c + ".weight";
                String bias = p + ".conv" + c + ".bias";
                graph.bytes(OrtOnnxGraph.GRAPH_INITIALIZER, tensor(w, random, scale, channels, channels, 3, 3));
                graph.bytes(OrtOnnxGraph.GRAPH_INITIALIZER, tensor(bias, random, 0.01f, 1, channels, 1, 1));
                graph.bytes(OrtOnnxGraph.GRAPH_NODE, conv(h, w, p + ".conv" + c));
                graph.bytes(OrtOnnxGraph.GRAPH_NODE, OrtTestExports.node("Add", List.of(p + ".conv" + c, bias), List.of(p + ".biased" + c)));
                h = p + ".biased" + c;
                if (c == 0) {
                    graph.bytes(OrtOnnxGraph.GRAPH_NODE, OrtTestExports.node("Sigmoid", List.of(h), List.of(p + ".sigmoid")));
                    graph.bytes(OrtOnnxGraph.GRAPH_NODE, OrtTestExports.node("Mul", List.of(h, p + ".sigmoid"), List.of(p + ".silu")));
                    h = p + ".silu";
                }
            }
            String out = b == blocks - 1 ? "y" : p + ".out";
            graph.bytes(OrtOnnxGraph.GRAPH_NODE, OrtTestExports.node("Add", List.of(h, x), List.of(out)));
            x = out;
        }
        graph.string(2, "synthetic");
        graph.bytes(11, OrtTestExports.valueInfo("x", FLOAT, 1, channels, side, side));
        graph.bytes(OrtOnnxGraph.GRAPH_OUTPUT, OrtTestExports.valueInfo("y", FLOAT, 1, channels, side, side));
        ProtobufWriter model = new ProtobufWriter()
                .varint(1, 8) // ir_version
                .string(2, "cyclediffusion-test") // producer_name
                .message(8, new ProtobufWriter().string(1, "").varint(2, 17)) // opset_import: ai.onnx 17
                .message(OrtOnnxGraph.MODEL_GRAPH, graph);
        Files.write(file, model.toByteArray());
    }

    private static byte[] tensor(String name, SplittableRandom random, float scale, int... dims) {
        int n = 1;
        ProtobufWriter t = new ProtobufWriter();
        for (int d : dims) {
            t.varint(1, d);
            n *= d;
        }
        ByteBuffer raw = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            raw.putFloat((float) ((random.nextDouble() * 2 - 1) * scale));
        }
        return t.varint(2, FLOAT).string(8, name).bytes(9, raw.array()).toByteArray();
    }

    private static byte[] conv(String input, String weight, String output) {
        ProtobufWriter ints = new ProtobufWriter().string(1, "pads");
        for (int i = 0; i < 4; i++) {
            ints.varint(8, 1);
        }
        ints.varint(20, 7); // AttributeProto.type = INTS
        return new ProtobufWriter().string(1, input).string(1, weight).string(2, output).string(3, output).string(4, "Conv")
                .message(5, ints).toByteArray();
    }
}
