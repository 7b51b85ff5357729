package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.io.ProtobufWriter;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Clip skip for an exported CLIP text encoder. diffusers' {@code encode_prompt} with
 * {@code clip_skip = k} takes {@code hidden_states[-(k + 1)]} (the output of encoder layer
 * {@code L − 1 − k}) and applies {@code final_layer_norm} to it. optimum's export only declares
 * {@code last_hidden_state} and {@code pooler_output}, so:
 *
 * <ul>
 *   <li>when the file declares {@code hidden_states.N} outputs (an export with
 *       {@code output_hidden_states}), those are read directly;</li>
 *   <li>otherwise the layer outputs are located in the graph by the scopes torch.onnx (≥ 1.13) puts in
 *       node names ({@code /text_model/encoder/layers.3/Add_1}: the tensor layer 3 hands to layer 4),
 *       declared as extra graph outputs by appending a {@code GraphProto} with only those outputs to a
 *       copy of the model (protobuf merges a repeated singular message field, so the original bytes
 *       stay untouched), and the copy is opened as a second session on first use.</li>
 * </ul>
 *
 * The final layer norm is applied here in Java with the {@code final_layer_norm} weight and bias
 * read from the same file and {@code layer_norm_eps} from the config, so no second copy of it is
 * needed in the graph.
 */
final class OrtClipSkip implements AutoCloseable {
    private static final Pattern LAYER_SCOPE = Pattern.compile("(?:^|/)layers\\.(\\d+)/");

    private final OrtNetwork network;
    private final boolean ownsNetwork;
    /** Output name of {@code hidden_states[i]}, i = 1 … L − 1 (the output of layer i − 1). */
    private final Map<Integer, String> hiddenStates;
    private final int numLayers;
    private final float[] weight;
    private final float[] bias;
    private final double eps;

    private OrtClipSkip(OrtNetwork network, boolean ownsNetwork, Map<Integer, String> hiddenStates, int numLayers, float[] weight,
            float[] bias, double eps) {
        this.network = network;
        this.ownsNetwork = ownsNetwork;
        this.hiddenStates = hiddenStates;
        this.numLayers = numLayers;
        this.weight = weight;
        this.bias = bias;
        this.eps = eps;
    }

    /**
     * Prepares clip skip for the text encoder {@code base}, or fails with a message that names the
     * flag, the reason and the alternatives.
     */
    static OrtClipSkip create(OrtSessionFactory factory, OrtNetwork base, List<OrtSignature> signatures, int configLayers, double eps) {
        OrtOnnxGraph graph = OrtOnnxGraph.read(base.file());
        float[] weight = finalLayerNorm(graph, "weight");
        float[] bias = finalLayerNorm(graph, "bias");

        Map<Integer, String> declared = new TreeMap<>();
        for (String name : base.outputNames()) {
            if (name.matches("hidden_states\\.\\d+")) {
                declared.put(Integer.parseInt(name.substring("hidden_states.".length())), name);
            }
        }
        if (!declared.isEmpty()) {
            int layers = declared.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow();
            return new OrtClipSkip(base, false, declared, layers, weight, bias, eps);
        }

        Map<Integer, String> layerOutputs = layerOutputs(graph);
        int layers = layerOutputs.size() + 1;
        if (configLayers > 0 && configLayers != layers) {
            throw unsupported(base, "its graph has " + layers + " encoder layers, its config.json says num_hidden_layers = " + configLayers);
        }
        Map<Integer, String> hidden = new TreeMap<>();
        layerOutputs.forEach((layer, tensor) -> hidden.put(layer + 1, tensor));

        int elemType = graph.outputElemTypes().getOrDefault("last_hidden_state", OrtOnnxGraph.FLOAT);
        ProtobufWriter outputs = new ProtobufWriter();
        for (String tensor : hidden.values()) {
            ProtobufWriter tensorType = new ProtobufWriter().varint(OrtOnnxGraph.TENSOR_TYPE_ELEM_TYPE, elemType == 0 ? OrtOnnxGraph.FLOAT : elemType);
            ProtobufWriter type = new ProtobufWriter().message(OrtOnnxGraph.TYPE_TENSOR, tensorType);
            outputs.message(OrtOnnxGraph.GRAPH_OUTPUT, new ProtobufWriter()
                    .string(OrtOnnxGraph.VALUE_INFO_NAME, tensor)
                    .message(OrtOnnxGraph.VALUE_INFO_TYPE, type));
        }
        byte[] appended = new ProtobufWriter().message(OrtOnnxGraph.MODEL_GRAPH, outputs).toByteArray();
        ByteBuffer original = graph.bytes();
        ByteBuffer edited = OrtTensors.direct((long) original.remaining() + appended.length);
        edited.put(original).put(appended).flip();

        String what = base.file() + " (with inner layer outputs for clip skip)";
        OrtSession session = factory.open(edited, base.file().getParent(), what);
        List<OrtSignature> withHidden = new ArrayList<>();
        for (OrtSignature s : signatures) {
            List<OrtPort> outs = new ArrayList<>(s.outputs());
            for (String tensor : hidden.values()) {
                outs.add(OrtPort.of(tensor, OrtElementType.FLOATS, 3));
            }
            withHidden.add(new OrtSignature(s.variant(), s.inputs(), outs));
        }
        OrtNetwork network = OrtNetwork.wrap(session, base.file(), "text encoder (clip skip)", withHidden);
        return new OrtClipSkip(network, true, hidden, layers, weight, bias, eps);
    }

    /**
     * For each encoder layer j but the last: the one tensor produced in scope {@code layers.j/} and
     * consumed in scope {@code layers.(j+1)/} (the hidden state; the residual and the first layer
     * norm of layer j + 1 both read it).
     */
    private static Map<Integer, String> layerOutputs(OrtOnnxGraph graph) {
        Map<String, Integer> producerLayer = new HashMap<>();
        Map<Integer, Set<String>> handedOn = new TreeMap<>();
        int maxLayer = -1;
        for (OrtOnnxGraph.Node n : graph.nodes()) {
            int layer = layerOf(n.name());
            maxLayer = Math.max(maxLayer, layer);
            if (layer >= 0) {
                for (String out : n.outputs()) {
                    producerLayer.put(out, layer);
                }
            }
        }
        if (maxLayer < 1) {
            throw new CycleDiffusionException(graph.file() + ": clip skip needs the output of an inner encoder layer, and this"
                    + " export neither declares hidden_states outputs nor has node names scoped by layer (/encoder/layers.N/,"
                    + " as torch.onnx >= 1.13 writes them). Export the text encoder with output_hidden_states, run without"
                    + " --clip-skip, or use the libtorch backend (--backend libtorch), which supports clip skip.");
        }
        for (OrtOnnxGraph.Node n : graph.nodes()) {
            int layer = layerOf(n.name());
            if (layer < 1) {
                continue;
            }
            for (String in : n.inputs()) {
                Integer from = producerLayer.get(in);
                if (from != null && from == layer - 1) {
                    handedOn.computeIfAbsent(from, k -> new LinkedHashSet<>()).add(in);
                }
            }
        }
        Map<Integer, String> out = new TreeMap<>();
        for (int j = 0; j < maxLayer; j++) {
            Set<String> candidates = handedOn.getOrDefault(j, Set.of());
            if (candidates.size() != 1) {
                throw new CycleDiffusionException(graph.file() + ": clip skip cannot tell which tensor encoder layer " + j
                        + " hands to layer " + (j + 1) + " (candidates " + candidates + "). Run without --clip-skip or use the"
                        + " libtorch backend (--backend libtorch), which supports clip skip.");
            }
            out.put(j, candidates.iterator().next());
        }
        return out;
    }

    private static int layerOf(String nodeName) {
        Matcher m = LAYER_SCOPE.matcher(nodeName);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static float[] finalLayerNorm(OrtOnnxGraph graph, String which) {
        String exact = "text_model.final_layer_norm." + which;
        if (graph.hasInitializer(exact)) {
            return graph.floatInitializer(exact);
        }
        throw new CycleDiffusionException(graph.file() + ": clip skip applies final_layer_norm to an inner layer's output, and this"
                + " export has no initializer '" + exact + "' (the state-dict name torch.onnx keeps). Run without --clip-skip or use"
                + " the libtorch backend (--backend libtorch).");
    }

    private static CycleDiffusionException unsupported(OrtNetwork base, String why) {
        return new CycleDiffusionException(base.file() + ": clip skip is not available for this export: " + why
                + ". Run without --clip-skip or use the libtorch backend (--backend libtorch).");
    }

    int numLayers() {
        return numLayers;
    }

    /** {@code final_layer_norm(hidden_states[-(clipSkip + 1)])} for {@code 1 ≤ clipSkip < L}. */
    FloatTensor encode(String inputName, OnnxTensor ids, int clipSkip) {
        int index = numLayers - clipSkip;
        String output = hiddenStates.get(index);
        if (clipSkip < 1 || output == null) {
            throw new CycleDiffusionException("clip skip " + clipSkip + ": the text encoder " + network.file() + " has " + numLayers
                    + " layers; expected a clip skip from 0 to " + (numLayers - 1));
        }
        FloatTensor hidden;
        try (OrtSession.Result r = network.run(Map.of(inputName, ids), Set.of(output))) {
            hidden = OrtTensors.toHost(r, output);
        }
        return layerNorm(hidden);
    }

    /** torch's {@code layer_norm} over the last axis: biased variance, eps inside the square root. */
    private FloatTensor layerNorm(FloatTensor x) {
        int d = x.dim(-1);
        if (d != weight.length) {
            throw new CycleDiffusionException(network.file() + ": final_layer_norm has " + weight.length + " weights, the hidden state has "
                    + d + " features");
        }
        float[] in = x.data();
        float[] out = new float[in.length];
        for (int row = 0; row < in.length; row += d) {
            double mean = 0;
            for (int i = 0; i < d; i++) {
                mean += in[row + i];
            }
            mean /= d;
            double var = 0;
            for (int i = 0; i < d; i++) {
                double c = in[row + i] - mean;
                var += c * c;
            }
            var /= d;
            double inv = 1.0 / Math.sqrt(var + eps);
            for (int i = 0; i < d; i++) {
                out[row + i] = (float) ((in[row + i] - mean) * inv * weight[i] + bias[i]);
            }
        }
        return new FloatTensor(out, x.shape());
    }

    @Override
    public void close() {
        if (ownsNetwork) {
            network.close();
        }
    }
}
