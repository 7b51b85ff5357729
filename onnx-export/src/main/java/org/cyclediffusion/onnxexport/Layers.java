package org.cyclediffusion.onnxexport;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.cyclediffusion.onnxexport.OnnxGraph.Attr;

/**
 * The torch modules Stable Diffusion's networks are made of, written as the ONNX nodes torch.onnx
 * (opset 14) exports them as, with weights read by state-dict name. {@code p} is always the
 * module's state-dict prefix: it names the weights and the node scope.
 */
final class Layers {
    final OnnxGraph g;
    final Weights w;
    private final boolean contribAttention;

    Layers(OnnxGraph g, Weights w) {
        this(g, w, false);
    }

    /**
     * {@code contribAttention}: unmasked attention with the product scaled (diffusers') as ONNX
     * Runtime's {@code com.microsoft.MultiHeadAttention}, see {@link #attention}.
     */
    Layers(OnnxGraph g, Weights w, boolean contribAttention) {
        this.g = g;
        this.w = w;
        this.contribAttention = contribAttention;
    }

    /** A weight as stored. */
    String weight(String name) {
        return g.weight(name, w.shape(name), w.f32(name));
    }

    /** A weight's data under another shape (same element count), e.g. a norm's [C] as [C, 1, 1] for NCHW broadcasting. */
    String weightAs(String name, long... dims) {
        return g.weight(name, dims, w.f32(name));
    }

    /** {@code nn.Conv2d}; {@code pads} as ONNX orders them: top, left, bottom, right. */
    String conv(String p, String x, int stride, long... pads) {
        long[] s = w.shape(p + ".weight");
        List<String> in = w.has(p + ".bias") ? List.of(x, weight(p + ".weight"), weight(p + ".bias")) : List.of(x, weight(p + ".weight"));
        return g.op(p, "Conv", in, Attr.ints("dilations", 1, 1), Attr.i("group", 1), Attr.ints("kernel_shape", s[2], s[3]),
                Attr.ints("pads", pads), Attr.ints("strides", stride, stride));
    }

    /**
     * A 3×3 convolution padded to keep the size, stride 1, as an explicit im2col and one MatMul: the
     * nine shifted copies of the zero-padded input side by side as [B·H·W, 9·C_in] rows, times the
     * weight reordered to [9·C_in, C_out]. The batch and the pixels are the MatMul's rows, so at a few
     * pixels (SD's lowest UNet level at 256²: 4×4) the product is still one large GEMM, where a direct
     * convolution has too few output pixels per image to fill its kernel.
     */
    String conv3x3AsMatMul(String p, String x) {
        long[] s = w.shape(p + ".weight");
        if (s.length != 4 || s[2] != 3 || s[3] != 3) {
            throw new IllegalArgumentException(p + ": a 3x3 kernel expected, found " + Arrays.toString(s));
        }
        long out = s[0];
        long in = s[1];
        String padded = g.op(p, "Pad", List.of(x, g.ints(p, 0, 0, 1, 1, 0, 0, 1, 1)), Attr.s("mode", "constant"));
        String shape = g.op(p, "Shape", x);
        String h = g.op(p, "Slice", shape, g.ints(p, 2), g.ints(p, 3));
        String wd = g.op(p, "Slice", shape, g.ints(p, 3), g.ints(p, 4));
        List<String> taps = new ArrayList<>();
        for (int dy = 0; dy < 3; dy++) {
            for (int dx = 0; dx < 3; dx++) {
                String ends = g.op(p, "Concat", List.of(g.op(p, "Add", h, g.ints(p, dy)), g.op(p, "Add", wd, g.ints(p, dx))), Attr.i("axis", 0));
                taps.add(g.op(p, "Slice", padded, g.ints(p, dy, dx), ends, g.ints(p, 2, 3)));
            }
        }
        // [B, 9·C_in, H, W], channel tap·C_in + c, then rows of pixels
        String columns = g.op(p, "Concat", taps, Attr.i("axis", 1));
        String rows = g.op(p, "Reshape", g.op(p, "Transpose", List.of(columns), Attr.ints("perm", 0, 2, 3, 1)), g.ints(p, -1, 9 * in));
        String weight = g.weight(p + ".weight.im2col", new long[] {9 * in, out}, im2colWeight(p + ".weight", out, in));
        String y = g.op(p, "MatMul", rows, weight);
        if (w.has(p + ".bias")) {
            y = g.op(p, "Add", y, weight(p + ".bias"));
        }
        String nhwc = g.op(p, "Concat", List.of(g.op(p, "Slice", shape, g.ints(p, 0), g.ints(p, 1)), h, wd, g.ints(p, out)), Attr.i("axis", 0));
        return g.op(p, "Transpose", List.of(g.op(p, "Reshape", y, nhwc)), Attr.ints("perm", 0, 3, 1, 2));
    }

    /** torch's [C_out, C_in, 3, 3] as [9·C_in, C_out]: row (ky·3 + kx)·C_in + c, column o. */
    private Supplier<ByteBuffer> im2colWeight(String name, long out, long in) {
        Supplier<ByteBuffer> src = w.f32(name);
        return () -> {
            FloatBuffer f = src.get().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(4 * 9 * in * out)).order(ByteOrder.LITTLE_ENDIAN);
            for (int tap = 0; tap < 9; tap++) {
                for (long c = 0; c < in; c++) {
                    for (long o = 0; o < out; o++) {
                        b.putFloat(f.get(Math.toIntExact((o * in + c) * 9 + tap)));
                    }
                }
            }
            return b.flip();
        };
    }

    /** A k×k convolution padded to keep the size (k odd), stride 1. */
    String conv(String p, String x) {
        long k = w.dim(p + ".weight", 2);
        long pad = k / 2;
        return conv(p, x, 1, pad, pad, pad, pad);
    }

    /** {@code nn.Linear} on a 2-D input: Gemm with transB, as torch.onnx writes it. */
    String gemm(String p, String x) {
        return g.op(p, "Gemm", List.of(x, weight(p + ".weight"), weight(p + ".bias")), Attr.f("alpha", 1f), Attr.f("beta", 1f),
                Attr.i("transB", 1));
    }

    /** {@code nn.Linear} on any rank: MatMul with the transposed weight, then the bias if the layer has one. */
    String linear(String p, String x) {
        String wt = g.weight(p + ".weight.T", new long[] {w.dim(p + ".weight", 1), w.dim(p + ".weight", 0)}, w.f32Transposed(p + ".weight"));
        String y = g.op(p, "MatMul", x, wt);
        return w.has(p + ".bias") ? g.op(p, "Add", weight(p + ".bias"), y) : y;
    }

    /**
     * Outputs {@code from} … {@code from + count − 1} of {@code nn.Linear} {@code p} on any rank: a
     * MatMul with those rows of the weight, transposed, then their bias. Each output is the same
     * dot product as in the whole layer's MatMul.
     */
    String linearPart(String p, String x, int from, int count) {
        String range = "[" + from + ":" + (from + count) + "]";
        String wt = g.weight(p + ".weight.T" + range, new long[] {w.dim(p + ".weight", 1), count}, w.f32Transposed(p + ".weight", from, count));
        String y = g.op(p, "MatMul", x, wt);
        return w.has(p + ".bias") ? g.op(p, "Add", g.weight(p + ".bias" + range, new long[] {count}, w.f32Slice(p + ".bias", from, count)), y) : y;
    }

    String silu(String p, String x) {
        return g.op(p, "Mul", x, g.op(p, "Sigmoid", x));
    }

    /** Exact (erf) GELU: x · ½(1 + erf(x/√2)). */
    String gelu(String p, String x) {
        String erf = g.op(p, "Erf", g.op(p, "Div", x, g.scalar(p, 1.4142135381698608f)));
        return g.op(p, "Mul", g.op(p, "Mul", x, g.op(p, "Add", erf, g.scalar(p, 1f))), g.scalar(p, 0.5f));
    }

    /** CLIP's quick_gelu: x · σ(1.702 x). */
    String quickGelu(String p, String x) {
        return g.op(p, "Mul", x, g.op(p, "Sigmoid", g.op(p, "Mul", x, g.scalar(p, 1.702f))));
    }

    /**
     * {@code nn.GroupNorm} over NCHW as torch.onnx (opset 14) writes it: reshape to [N, groups, −1],
     * InstanceNormalization with unit scale and zero shift, reshape back, then the affine per channel.
     */
    String groupNorm(String p, String x, int groups, double eps) {
        long channels = w.dim(p + ".weight", 0);
        String grouped = g.op(p, "Reshape", x, g.ints(p, 0, groups, -1));
        float[] ones = new float[groups];
        Arrays.fill(ones, 1f);
        String normed = g.op(p, "InstanceNormalization", List.of(grouped, g.floats(p, new long[] {groups}, ones),
                g.floats(p, new long[] {groups}, new float[groups])), Attr.f("epsilon", (float) eps));
        String back = g.op(p, "Reshape", normed, g.op(p, "Shape", x));
        String scaled = g.op(p, "Mul", back, weightAs(p + ".weight", channels, 1, 1));
        return g.op(p, "Add", scaled, weightAs(p + ".bias", channels, 1, 1));
    }

    /** {@code nn.LayerNorm} over the last axis, decomposed as torch.onnx writes it at opset 14 (ONNX Runtime fuses it back). */
    String layerNorm(String p, String x, double eps) {
        String mean = g.op(p, "ReduceMean", List.of(x), Attr.ints("axes", -1), Attr.i("keepdims", 1));
        String centred = g.op(p, "Sub", x, mean);
        String var = g.op(p, "ReduceMean", List.of(g.op(p, "Pow", centred, g.scalar(p, 2f))), Attr.ints("axes", -1), Attr.i("keepdims", 1));
        String std = g.op(p, "Sqrt", g.op(p, "Add", var, g.scalar(p, (float) eps)));
        String normed = g.op(p, "Div", centred, std);
        return g.op(p, "Add", g.op(p, "Mul", normed, weight(p + ".weight")), weight(p + ".bias"));
    }

    /**
     * diffusers' {@code ResnetBlock2D} (default time-embedding shift, output scale 1):
     * x + conv2(silu(norm2(conv1(silu(norm1 x)) + proj(silu temb)))), the shortcut a 1×1 conv when the channels change.
     */
    String resnet(String p, String x, String temb, int groups, double eps) {
        return resnet(p, x, temb, groups, eps, false);
    }

    /** {@code im2col}: both 3×3 convolutions as {@link #conv3x3AsMatMul}. */
    String resnet(String p, String x, String temb, int groups, double eps, boolean im2col) {
        String h = silu(p + ".nonlinearity", groupNorm(p + ".norm1", x, groups, eps));
        h = im2col ? conv3x3AsMatMul(p + ".conv1", h) : conv(p + ".conv1", h);
        if (temb != null) {
            String t = gemm(p + ".time_emb_proj", silu(p + ".nonlinearity", temb));
            h = g.op(p, "Add", h, g.op(p, "Unsqueeze", t, g.ints(p, 2, 3)));
        }
        h = silu(p + ".nonlinearity", groupNorm(p + ".norm2", h, groups, eps));
        h = im2col ? conv3x3AsMatMul(p + ".conv2", h) : conv(p + ".conv2", h);
        String shortcut = w.has(p + ".conv_shortcut.weight") ? conv(p + ".conv_shortcut", x, 1, 0, 0, 0, 0) : x;
        return g.op(p, "Add", shortcut, h);
    }

    /**
     * Multi-head attention over [B, N, C] queries and [B, M, C'] keys/values: diffusers'
     * {@code Attention} with {@code AttnProcessor} (scores = scale · q kᵀ, softmax, · v, to_out.0),
     * or, with {@code scaleQuery}, CLIP's (q scaled before the product) with an additive mask.
     */
    String attention(String p, String x, String context, int heads, long headDim, String q, String k, String v, String out,
            boolean scaleQuery, String mask) {
        String query = linear(p + "." + q, x);
        float scale = (float) Math.pow(headDim, -0.5);
        if (scaleQuery) {
            query = g.op(p, "Mul", query, g.scalar(p, scale));
        }
        String key = linear(p + "." + k, context);
        String value = linear(p + "." + v, context);
        if (contribAttention && !scaleQuery && mask == null) {
            // One node for the heads' split, scores, softmax and merge: ONNX Runtime's CPU kernel runs
            // it as flash attention (blocks of queries against blocks of keys, an online softmax), so
            // the [B, heads, N, M] scores are never written out, nor the heads transposed by nodes.
            String o = g.msOp(p, "MultiHeadAttention", List.of(query, key, value), Attr.i("num_heads", heads), Attr.f("scale", scale));
            return linear(p + "." + out, o);
        }
        String splitHeads = g.ints(p, 0, 0, heads, headDim);
        String qh = g.op(p, "Transpose", List.of(g.op(p, "Reshape", query, splitHeads)), Attr.ints("perm", 0, 2, 1, 3));
        String khT = g.op(p, "Transpose", List.of(g.op(p, "Reshape", key, splitHeads)), Attr.ints("perm", 0, 2, 3, 1));
        String vh = g.op(p, "Transpose", List.of(g.op(p, "Reshape", value, splitHeads)), Attr.ints("perm", 0, 2, 1, 3));
        String scores = g.op(p, "MatMul", qh, khT);
        if (!scaleQuery) {
            scores = g.op(p, "Mul", scores, g.scalar(p, scale));
        }
        if (mask != null) {
            scores = g.op(p, "Add", scores, mask);
        }
        String probs = g.op(p, "Softmax", List.of(scores), Attr.i("axis", -1));
        String o = g.op(p, "Transpose", List.of(g.op(p, "MatMul", probs, vh)), Attr.ints("perm", 0, 2, 1, 3));
        o = g.op(p, "Reshape", o, g.ints(p, 0, 0, heads * headDim));
        return linear(p + "." + out, o);
    }

    /**
     * transformers' {@code CLIPEncoderLayer} (text and vision towers): pre-norm self-attention with
     * the query scaled, an optional additive mask, then the MLP with quick_gelu or gelu; both residual.
     */
    String clipEncoderLayer(String p, String h, int heads, long headDim, boolean quickGelu, double eps, String mask) {
        String n = layerNorm(p + ".layer_norm1", h, eps);
        h = g.op(p, "Add", h, attention(p + ".self_attn", n, n, heads, headDim, "q_proj", "k_proj", "v_proj", "out_proj", true, mask));
        n = layerNorm(p + ".layer_norm2", h, eps);
        String m = linear(p + ".mlp.fc1", n);
        m = quickGelu ? quickGelu(p + ".mlp.activation_fn", m) : gelu(p + ".mlp.activation_fn", m);
        return g.op(p, "Add", h, linear(p + ".mlp.fc2", m));
    }

    /** [B, C, H, W] → [B, H·W, C]. */
    String toTokens(String p, String x, long channels) {
        return g.op(p, "Transpose", List.of(g.op(p, "Reshape", x, g.ints(p, 0, channels, -1))), Attr.ints("perm", 0, 2, 1));
    }

    /** [B, H·W, C] → the shape of {@code like} ([B, C, H, W]). */
    String fromTokens(String p, String tokens, String like) {
        String t = g.op(p, "Transpose", List.of(tokens), Attr.ints("perm", 0, 2, 1));
        return g.op(p, "Reshape", t, g.op(p, "Shape", like));
    }

    /** Nearest-neighbour upsampling by 2 (F.interpolate scale_factor=2, mode="nearest"). */
    String upsample2x(String p, String x) {
        return g.op(p, "Resize", List.of(x, "", g.floats(p, new long[] {4}, 1f, 1f, 2f, 2f)), nearest());
    }

    /** Nearest-neighbour resize of x to the spatial size of {@code like} (diffusers' upsample_size). */
    String upsampleTo(String p, String x, String like) {
        String sizes = g.op(p, "Concat", List.of(g.op(p, "Slice", g.op(p, "Shape", x), g.ints(p, 0), g.ints(p, 2)),
                g.op(p, "Slice", g.op(p, "Shape", like), g.ints(p, 2), g.ints(p, 4))), Attr.i("axis", 0));
        return g.op(p, "Resize", List.of(x, "", "", sizes), nearest());
    }

    /** torch's nearest: source index floor(dst · in/out). */
    private static Attr[] nearest() {
        return new Attr[] {Attr.s("coordinate_transformation_mode", "asymmetric"), Attr.s("mode", "nearest"),
                Attr.s("nearest_mode", "floor")};
    }
}
