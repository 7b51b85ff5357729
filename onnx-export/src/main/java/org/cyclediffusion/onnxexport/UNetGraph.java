package org.cyclediffusion.onnxexport;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.onnxexport.OnnxGraph.Attr;

/**
 * diffusers' {@code UNet2DConditionModel} as SD 1.x and 2.x configure it (cross-attention down/up
 * blocks, {@code UNetMidBlock2DCrossAttn}, positional timestep embedding, conv or linear
 * {@code proj_in/proj_out}), with optimum's signature: {@code sample} [batch, C, height, width],
 * {@code timestep} float32 rank 0, {@code encoder_hidden_states} [batch, sequence, cross dim] →
 * {@code out_sample}.
 *
 * <p>Unlike a traced export, the upsamplers resize to the size of the skip connection they are
 * concatenated with (diffusers' {@code upsample_size}), so any latent size runs, as in PyTorch.
 */
final class UNetGraph {
    private static final double TRANSFORMER_NORM_EPS = 1e-6;
    private static final double LAYER_NORM_EPS = 1e-5;

    private UNetGraph() {
    }

    /** {@code contribAttention}: attention as ONNX Runtime's {@code MultiHeadAttention} (see {@link OnnxExporter#contribAttention()}). */
    static OnnxGraph build(JsonConfig c, Weights w, boolean contribAttention) {
        checkSupported(c);
        int[] channels = c.getIntArray("block_out_channels").orElseThrow(() -> missing(c, "block_out_channels"));
        List<String> down = c.getStringList("down_block_types").orElseThrow(() -> missing(c, "down_block_types"));
        List<String> up = c.getStringList("up_block_types").orElseThrow(() -> missing(c, "up_block_types"));
        int layers = c.getInt("layers_per_block", 2);
        int groups = c.getInt("norm_num_groups", 32);
        double eps = c.getDouble("norm_eps", 1e-5);
        boolean linearProjection = c.getBoolean("use_linear_projection", false);
        int[] heads = heads(c, channels.length);
        int inChannels = c.getInt("in_channels", 4);
        int outChannels = c.getInt("out_channels", 4);
        int crossDim = c.getInt("cross_attention_dim", 768);

        OnnxGraph g = new OnnxGraph("unet");
        Layers l = new Layers(g, w, contribAttention);
        g.input("sample", OnnxGraph.FLOAT, "batch_size", inChannels, "height", "width");
        g.input("timestep", OnnxGraph.FLOAT);
        g.input("encoder_hidden_states", OnnxGraph.FLOAT, "batch_size", "sequence_length", crossDim);
        String ctx = "encoder_hidden_states";

        String temb = timeEmbedding(c, l, w.dim("time_embedding.linear_1.weight", 1));
        String h = l.conv("conv_in", "sample");
        Deque<String> skips = new ArrayDeque<>();
        skips.push(h);
        for (int i = 0; i < down.size(); i++) {
            boolean cross = crossAttention(c, down.get(i), "CrossAttnDownBlock2D", "DownBlock2D");
            String p = "down_blocks." + i;
            // the lowest level (after the last down-sampler, and the mid block and first up block at the
            // same size) has the fewest pixels: its 3×3 convolutions run as im2col + MatMul (Layers.conv3x3AsMatMul)
            boolean lowest = i == down.size() - 1;
            for (int j = 0; j < layers; j++) {
                h = l.resnet(p + ".resnets." + j, h, temb, groups, eps, lowest);
                if (cross) {
                    h = transformer(l, p + ".attentions." + j, h, ctx, heads[i], groups, linearProjection);
                }
                skips.push(h);
            }
            if (i < down.size() - 1) {
                h = l.conv(p + ".downsamplers.0.conv", h, 2, 1, 1, 1, 1);
                skips.push(h);
            }
        }
        h = l.resnet("mid_block.resnets.0", h, temb, groups, eps, true);
        h = transformer(l, "mid_block.attentions.0", h, ctx, heads[heads.length - 1], groups, linearProjection);
        h = l.resnet("mid_block.resnets.1", h, temb, groups, eps, true);
        for (int i = 0; i < up.size(); i++) {
            boolean cross = crossAttention(c, up.get(i), "CrossAttnUpBlock2D", "UpBlock2D");
            String p = "up_blocks." + i;
            int blockHeads = heads[heads.length - 1 - i];
            for (int j = 0; j <= layers; j++) {
                h = g.op(p + ".resnets." + j, "Concat", List.of(h, skips.pop()), Attr.i("axis", 1));
                h = l.resnet(p + ".resnets." + j, h, temb, groups, eps, i == 0);
                if (cross) {
                    h = transformer(l, p + ".attentions." + j, h, ctx, blockHeads, groups, linearProjection);
                }
            }
            if (i < up.size() - 1) {
                h = l.upsampleTo(p + ".upsamplers.0", h, skips.peek());
                h = l.conv(p + ".upsamplers.0.conv", h);
            }
        }
        h = l.silu("conv_act", l.groupNorm("conv_norm_out", h, groups, eps));
        String out = l.conv("conv_out", h);
        g.opNamed("", "out_sample", "Identity", List.of(out));
        g.output("out_sample", OnnxGraph.FLOAT, "batch_size", outChannels, "height", "width");
        return g;
    }

    /**
     * {@code Timesteps} (flip_sin_to_cos, freq_shift) then {@code TimestepEmbedding}: the frequencies
     * are constants computed in float32 as get_timestep_embedding does; the timestep scalar broadcasts
     * over the batch ([1, dim] embedding, added to [batch, C, h, w]).
     */
    private static String timeEmbedding(JsonConfig c, Layers l, long dim) {
        OnnxGraph g = l.g;
        int half = (int) (dim / 2);
        double shift = c.getDouble("freq_shift", 0);
        float[] freqs = frequencies(half, shift);
        String t = g.op("time_proj", "Reshape", "timestep", g.ints("time_proj", 1, 1));
        String args = g.op("time_proj", "Mul", t, g.floats("time_proj", new long[] {1, half}, freqs));
        String sin = g.op("time_proj", "Sin", args);
        String cos = g.op("time_proj", "Cos", args);
        boolean flip = c.getBoolean("flip_sin_to_cos", true);
        String emb = g.op("time_proj", "Concat", flip ? List.of(cos, sin) : List.of(sin, cos), Attr.i("axis", -1));
        String h = l.gemm("time_embedding.linear_1", emb);
        h = l.silu("time_embedding.act", h);
        return l.gemm("time_embedding.linear_2", h);
    }

    /** exp(−ln(10000) · i / (half − shift)) for i < half, each step rounded to float32 as torch computes it. */
    static float[] frequencies(int half, double shift) {
        float[] f = new float[half];
        float minusLog = (float) -Math.log(10000);
        float denominator = (float) (half - shift);
        for (int i = 0; i < half; i++) {
            float exponent = (float) i * minusLog / denominator;
            f[i] = (float) Math.exp(exponent);
        }
        return f;
    }

    /** diffusers' {@code Transformer2DModel} with one {@code BasicTransformerBlock} (self-attention, cross-attention, GEGLU). */
    private static String transformer(Layers l, String p, String x, String ctx, int heads, int groups, boolean linearProjection) {
        OnnxGraph g = l.g;
        Weights w = l.w;
        long channels = w.dim(p + ".norm.weight", 0);
        long inner = w.dim(p + ".proj_in.weight", 0);
        long headDim = inner / heads;
        String h = l.groupNorm(p + ".norm", x, groups, TRANSFORMER_NORM_EPS);
        if (linearProjection) {
            h = l.linear(p + ".proj_in", l.toTokens(p, h, channels));
        } else {
            h = l.toTokens(p, l.conv(p + ".proj_in", h, 1, 0, 0, 0, 0), inner);
        }
        String b = p + ".transformer_blocks.0";
        if (w.has(p + ".transformer_blocks.1.norm1.weight")) {
            throw new ConfigException(p + ": transformer_layers_per_block > 1 is not supported by the ONNX exporter");
        }
        String n = l.layerNorm(b + ".norm1", h, LAYER_NORM_EPS);
        h = g.op(b, "Add", l.attention(b + ".attn1", n, n, heads, headDim, "to_q", "to_k", "to_v", "to_out.0", false, null), h);
        n = l.layerNorm(b + ".norm2", h, LAYER_NORM_EPS);
        h = g.op(b, "Add", l.attention(b + ".attn2", n, ctx, heads, headDim, "to_q", "to_k", "to_v", "to_out.0", false, null), h);
        n = l.layerNorm(b + ".norm3", h, LAYER_NORM_EPS);
        h = g.op(b, "Add", feedForward(l, b + ".ff", n), h);
        String out;
        if (linearProjection) {
            out = l.fromTokens(p, l.linear(p + ".proj_out", h), x);
        } else {
            out = l.conv(p + ".proj_out", l.fromTokens(p, h, x), 1, 0, 0, 0, 0);
        }
        return g.op(p, "Add", out, x);
    }

    /**
     * GEGLU: (x W + b) split in two halves, hidden · gelu(gate), then the output Linear. The halves are
     * two MatMuls over the weight's two row blocks rather than one MatMul and a Split: the same
     * products without copying the [B, N, 2·inner] projection apart, and the gate's bias Add and
     * GELU are then a pattern ONNX Runtime fuses into one node (BiasGelu).
     */
    private static String feedForward(Layers l, String p, String x) {
        OnnxGraph g = l.g;
        int inner = Math.toIntExact(l.w.dim(p + ".net.2.weight", 1));
        String hidden = l.linearPart(p + ".net.0.proj", x, 0, inner);
        String gate = l.linearPart(p + ".net.0.proj", x, inner, inner);
        String geglu = g.op(p + ".net.0", "Mul", hidden, l.gelu(p + ".net.0", gate));
        return l.linear(p + ".net.2", geglu);
    }

    /**
     * Heads per block: {@code num_attention_heads}, else {@code attention_head_dim}, which SD
     * configs use for the number of heads (diffusers: {@code num_attention_heads or attention_head_dim}).
     */
    private static int[] heads(JsonConfig c, int blocks) {
        String key = c.get("num_attention_heads").filter(n -> !n.isNull()).isPresent() ? "num_attention_heads" : "attention_head_dim";
        if (c.get(key).filter(n -> n.isArray()).isPresent()) {
            int[] h = c.getIntArray(key).orElseThrow();
            if (h.length != blocks) {
                throw new ConfigException(c.source() + ": " + key + " has " + h.length + " entries for " + blocks + " blocks");
            }
            return h;
        }
        int[] h = new int[blocks];
        java.util.Arrays.fill(h, c.getInt(key, 8));
        return h;
    }

    private static boolean crossAttention(JsonConfig c, String type, String cross, String plain) {
        if (type.equals(cross)) {
            return true;
        }
        if (type.equals(plain)) {
            return false;
        }
        throw new ConfigException(c.source() + ": block type " + type + " is not supported by the ONNX exporter (expected " + cross
                + " or " + plain + ")");
    }

    private static void checkSupported(JsonConfig c) {
        for (String key : List.of("class_embed_type", "addition_embed_type", "encoder_hid_dim_type", "time_cond_proj_dim")) {
            if (c.get(key).filter(n -> !n.isNull()).isPresent()) {
                throw new ConfigException(c.source() + ": " + key + " is set; the ONNX exporter handles SD 1.x/2.x UNets only");
            }
        }
        if (!c.getString("mid_block_type", "UNetMidBlock2DCrossAttn").equals("UNetMidBlock2DCrossAttn")
                || !c.getString("resnet_time_scale_shift", "default").equals("default")
                || c.getBoolean("only_cross_attention", false) || c.getInt("transformer_layers_per_block", 1) != 1
                || c.getBoolean("center_input_sample", false)) {
            throw new ConfigException(c.source() + ": a UNet configured beyond SD 1.x/2.x (mid_block_type, resnet_time_scale_shift,"
                    + " only_cross_attention, transformer_layers_per_block or center_input_sample) is not supported by the ONNX exporter");
        }
    }

    private static ConfigException missing(JsonConfig c, String key) {
        return new ConfigException(c.source() + ": no " + key);
    }
}
