package org.cyclediffusion.onnxexport;

import java.util.List;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.onnxexport.OnnxGraph.Attr;

/**
 * diffusers' {@code StableDiffusionSafetyChecker.forward_onnx}, the function diffusers' ONNX export
 * script traces: {@code clip_input} [batch, 3, 224, 224] and {@code images} [batch, H, W, 3] →
 * {@code out_images} (flagged rows black) and {@code has_nsfw_concepts} [batch] bool. The CLIP
 * vision tower (patch conv, class token, positions, pre-LayerNorm, encoder, post-LayerNorm of the
 * class token) and {@code visual_projection} give the image embedding; its cosine similarities to
 * the special-care and concept embeddings minus their thresholds are the scores (not rounded, as in
 * {@code forward_onnx}; +0.01 on every concept when a special-care concept fires).
 *
 * <p>Unlike the traced export, the masking is written for any batch (a Where over a [batch, 1, 1, 1]
 * condition), not only batch 1.
 */
final class SafetyCheckerGraph {
    private static final String V = "vision_model.vision_model";

    private SafetyCheckerGraph() {
    }

    static OnnxGraph build(JsonConfig c, Weights w) {
        JsonConfig vision = c.getObject("vision_config").orElse(c);
        long hidden = w.dim(V + ".embeddings.class_embedding", 0);
        long[] patch = w.shape(V + ".embeddings.patch_embedding.weight");
        int heads = vision.getInt("num_attention_heads", 12); // CLIPVisionConfig's defaults where the file says nothing
        double eps = vision.getDouble("layer_norm_eps", 1e-5);
        String act = vision.getString("hidden_act", "quick_gelu");
        if (!act.equals("quick_gelu") && !act.equals("gelu")) {
            throw new ConfigException(c.source() + ": vision hidden_act " + act + " is not supported by the ONNX exporter");
        }
        OnnxGraph g = new OnnxGraph("safety_checker");
        Layers l = new Layers(g, w);
        g.input("clip_input", OnnxGraph.FLOAT, "batch", "channels", "height", "width");
        g.input("images", OnnxGraph.FLOAT, "batch", "height", "width", "channels");

        String e = V + ".embeddings";
        String patches = g.op(e + ".patch_embedding", "Conv", List.of("clip_input", l.weight(e + ".patch_embedding.weight")),
                Attr.ints("dilations", 1, 1), Attr.i("group", 1), Attr.ints("kernel_shape", patch[2], patch[3]), Attr.ints("pads", 0, 0, 0, 0),
                Attr.ints("strides", patch[2], patch[3]));
        patches = l.toTokens(e, patches, hidden);
        String batch = g.op(e, "Slice", g.op(e, "Shape", patches), g.ints(e, 0), g.ints(e, 1));
        String classToken = g.op(e, "Expand", l.weightAs(e + ".class_embedding", 1, 1, hidden),
                g.op(e, "Concat", List.of(batch, g.ints(e, 1, hidden)), Attr.i("axis", 0)));
        String h = g.op(e, "Concat", List.of(classToken, patches), Attr.i("axis", 1));
        h = g.op(e, "Add", h, l.weight(e + ".position_embedding.weight"));
        h = l.layerNorm(V + ".pre_layrnorm", h, eps);
        long headDim = hidden / heads;
        for (int i = 0; w.has(V + ".encoder.layers." + i + ".layer_norm1.weight"); i++) {
            h = l.clipEncoderLayer(V + ".encoder.layers." + i, h, heads, headDim, act.equals("quick_gelu"), eps, null);
        }
        String pooled = g.op(V, "Gather", List.of(h, g.longScalar(V, 0)), Attr.i("axis", 1));
        pooled = l.layerNorm(V + ".post_layernorm", pooled, eps);
        String imageEmbeds = normalize(g, "visual_projection", l.linear("visual_projection", pooled));

        String s = "";
        String specialCos = g.op(s, "MatMul", imageEmbeds, g.op(s, "Transpose", List.of(normalize(g, s, l.weight("special_care_embeds"))),
                Attr.ints("perm", 1, 0)));
        String cos = g.op(s, "MatMul", imageEmbeds, g.op(s, "Transpose", List.of(normalize(g, s, l.weight("concept_embeds"))),
                Attr.ints("perm", 1, 0)));
        String specialScores = g.op(s, "Sub", specialCos, l.weight("special_care_embeds_weights"));
        String specialCare = any(g, s, specialScores, 1);
        String adjustment = g.op(s, "Mul", specialCare, g.scalar(s, 0.01f));
        String conceptScores = g.op(s, "Add", g.op(s, "Sub", cos, l.weight("concept_embeds_weights")), adjustment);
        String flagged = any(g, s, conceptScores, 0);
        g.opNamed(s, "has_nsfw_concepts", "Cast", List.of(flagged), Attr.i("to", OnnxGraph.BOOL));
        String condition = g.op(s, "Reshape", "has_nsfw_concepts", g.ints(s, -1, 1, 1, 1));
        g.opNamed(s, "out_images", "Where", List.of(condition, g.scalar(s, 0f), "images"));
        g.output("out_images", OnnxGraph.FLOAT, "batch", "height", "width", "channels");
        g.output("has_nsfw_concepts", OnnxGraph.BOOL, "batch");
        return g;
    }

    /** torch.nn.functional.normalize over the last axis: x / max(‖x‖₂, 1e-12). */
    private static String normalize(OnnxGraph g, String p, String x) {
        String norm = g.op(p, "ReduceL2", List.of(x), Attr.ints("axes", -1), Attr.i("keepdims", 1));
        return g.op(p, "Div", x, g.op(p, "Max", norm, g.scalar(p, 1e-12f)));
    }

    /** torch.any(scores > 0, dim=1) as float 0/1, [batch, 1] with {@code keepdims}, else [batch]. */
    private static String any(OnnxGraph g, String p, String scores, int keepdims) {
        String positive = g.op(p, "Cast", List.of(g.op(p, "Greater", scores, g.scalar(p, 0f))), Attr.i("to", OnnxGraph.FLOAT));
        return g.op(p, "ReduceMax", List.of(positive), Attr.ints("axes", 1), Attr.i("keepdims", keepdims));
    }
}
