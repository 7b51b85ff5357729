package org.cyclediffusion.onnxexport;

import java.util.List;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.onnxexport.OnnxGraph.Attr;

/**
 * transformers' {@code CLIPTextModel} with optimum's signature: {@code input_ids} int64
 * [batch, sequence] → {@code last_hidden_state} [batch, sequence, hidden] and {@code pooler_output}
 * [batch, hidden]. Causal self-attention (an additive mask of float32's minimum above the
 * diagonal, as transformers 4.35 builds it); the pooled row is the first argmax of the ids when
 * {@code eos_token_id == 2} (the legacy configs SD ships), else the first eos token.
 *
 * <p>Encoder layer j's nodes are scoped {@code /text_model/encoder/layers.j/}, which is how the
 * ONNX backend finds the inner layers' outputs for clip skip.
 */
final class ClipTextGraph {
    private static final float FLOAT_MIN = -Float.MAX_VALUE;

    private ClipTextGraph() {
    }

    static OnnxGraph build(JsonConfig c, Weights w) {
        int hidden = c.getInt("hidden_size", 768);
        int layers = c.getInt("num_hidden_layers", 12);
        int heads = c.getInt("num_attention_heads", 12);
        int positions = c.getInt("max_position_embeddings", 77);
        double eps = c.getDouble("layer_norm_eps", 1e-5);
        int eos = c.getInt("eos_token_id", 2);
        String act = c.getString("hidden_act", "quick_gelu");
        if (!act.equals("quick_gelu") && !act.equals("gelu")) {
            throw new ConfigException(c.source() + ": hidden_act " + act + " is not supported by the ONNX exporter (quick_gelu or gelu)");
        }
        OnnxGraph g = new OnnxGraph("text_encoder");
        Layers l = new Layers(g, w);
        g.input("input_ids", OnnxGraph.INT64, "batch_size", "sequence_length");

        String e = "text_model.embeddings";
        String tokens = g.op(e + ".token_embedding", "Gather", List.of(l.weight(e + ".token_embedding.weight"), "input_ids"),
                Attr.i("axis", 0));
        String length = g.op(e, "Slice", g.op(e, "Shape", "input_ids"), g.ints(e, 1), g.ints(e, 2));
        String pos = g.op(e + ".position_embedding", "Slice", l.weight(e + ".position_embedding.weight"), g.ints(e, 0), length,
                g.ints(e, 0));
        String h = g.op(e, "Add", tokens, pos);

        String enc = "text_model.encoder";
        float[] causal = new float[positions * positions];
        for (int i = 0; i < positions; i++) {
            for (int j = i + 1; j < positions; j++) {
                causal[i * positions + j] = FLOAT_MIN;
            }
        }
        String square = g.op(enc, "Concat", List.of(length, length), Attr.i("axis", 0));
        String mask = g.op(enc, "Slice", g.floats(enc, new long[] {positions, positions}, causal), g.ints(enc, 0, 0), square,
                g.ints(enc, 0, 1));
        long headDim = hidden / heads;
        for (int i = 0; i < layers; i++) {
            h = l.clipEncoderLayer(enc + ".layers." + i, h, heads, headDim, act.equals("quick_gelu"), eps, mask);
        }
        String last = l.layerNorm("text_model.final_layer_norm", h, eps);
        g.opNamed("text_model", "last_hidden_state", "Identity", List.of(last));

        String t = "text_model";
        String ids = g.op(t, "Cast", List.of("input_ids"), Attr.i("to", 6));
        if (eos != 2) {
            ids = g.op(t, "Cast", List.of(g.op(t, "Equal", "input_ids", g.ints(t, eos))), Attr.i("to", 6));
        }
        String index = g.op(t, "ArgMax", List.of(ids), Attr.i("axis", -1), Attr.i("keepdims", 1));
        g.opNamed(t, "pooler_output", "GatherND", List.of(last, index), Attr.i("batch_dims", 1));
        g.output("last_hidden_state", OnnxGraph.FLOAT, "batch_size", "sequence_length", hidden);
        g.output("pooler_output", OnnxGraph.FLOAT, "batch_size", hidden);
        return g;
    }
}
