package org.cyclediffusion.onnxexport;

import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;

/**
 * diffusers' {@code AutoencoderKL} split as optimum exports it: {@code vae_encoder} (encoder and
 * {@code quant_conv}: {@code sample} → {@code latent_parameters}, the mean and log-variance
 * concatenated on axis 1, not clamped, not sampled) and {@code vae_decoder} ({@code post_quant_conv}
 * and decoder: {@code latent_sample}, already divided by the scaling factor, → {@code sample}).
 */
final class VaeGraphs {
    /** diffusers' Encoder/Decoder use 1e-6 for every norm (resnets, attention, conv_norm_out). */
    private static final double EPS = 1e-6;

    private VaeGraphs() {
    }

    static OnnxGraph encoder(JsonConfig c, Weights w) {
        Config v = Config.of(c);
        int[] channels = v.channels();
        int groups = v.groups();
        int layers = v.layers();
        OnnxGraph g = new OnnxGraph("vae_encoder");
        Layers l = new Layers(g, w);
        g.input("sample", OnnxGraph.FLOAT, "batch_size", c.getInt("in_channels", 3), "sample_height", "sample_width");
        String h = l.conv("encoder.conv_in", "sample");
        for (int i = 0; i < channels.length; i++) {
            String p = "encoder.down_blocks." + i;
            for (int j = 0; j < layers; j++) {
                h = l.resnet(p + ".resnets." + j, h, null, groups, EPS);
            }
            if (i < channels.length - 1) {
                // Downsample2D(padding=0): F.pad(x, (0, 1, 0, 1)) then a stride-2 conv
                h = l.conv(p + ".downsamplers.0.conv", h, 2, 0, 0, 1, 1);
            }
        }
        h = midBlock(l, "encoder.mid_block", h, groups);
        h = l.conv("encoder.conv_out", l.silu("encoder.conv_act", l.groupNorm("encoder.conv_norm_out", h, groups, EPS)));
        String moments = l.conv("quant_conv", h, 1, 0, 0, 0, 0);
        g.opNamed("", "latent_parameters", "Identity", java.util.List.of(moments));
        int factor = 1 << (channels.length - 1);
        g.output("latent_parameters", OnnxGraph.FLOAT, "batch_size", 2 * v.latent(), "sample_height / " + factor, "sample_width / " + factor);
        return g;
    }

    static OnnxGraph decoder(JsonConfig c, Weights w) {
        Config v = Config.of(c);
        int[] channels = v.channels();
        int groups = v.groups();
        OnnxGraph g = new OnnxGraph("vae_decoder");
        Layers l = new Layers(g, w);
        g.input("latent_sample", OnnxGraph.FLOAT, "batch_size", v.latent(), "latent_height", "latent_width");
        String h = l.conv("post_quant_conv", "latent_sample", 1, 0, 0, 0, 0);
        h = l.conv("decoder.conv_in", h);
        h = midBlock(l, "decoder.mid_block", h, groups);
        for (int i = 0; i < channels.length; i++) {
            String p = "decoder.up_blocks." + i;
            for (int j = 0; j <= v.layers(); j++) {
                h = l.resnet(p + ".resnets." + j, h, null, groups, EPS);
            }
            if (i < channels.length - 1) {
                h = l.conv(p + ".upsamplers.0.conv", l.upsample2x(p + ".upsamplers.0", h));
            }
        }
        h = l.conv("decoder.conv_out", l.silu("decoder.conv_act", l.groupNorm("decoder.conv_norm_out", h, groups, EPS)));
        g.opNamed("", "sample", "Identity", java.util.List.of(h));
        int factor = 1 << (channels.length - 1);
        g.output("sample", OnnxGraph.FLOAT, "batch_size", c.getInt("out_channels", 3), "latent_height * " + factor, "latent_width * " + factor);
        return g;
    }

    /** {@code UNetMidBlock2D}: resnet, single-head self-attention over the pixels (group-normed, residual), resnet. */
    private static String midBlock(Layers l, String p, String x, int groups) {
        String h = l.resnet(p + ".resnets.0", x, null, groups, EPS);
        String a = p + ".attentions.0";
        long channels = l.w.dim(a + ".group_norm.weight", 0);
        boolean legacy = !l.w.has(a + ".to_q.weight") && l.w.has(a + ".query.weight");
        String tokens = l.toTokens(a, l.groupNorm(a + ".group_norm", h, groups, EPS), channels);
        String attended = legacy
                ? l.attention(a, tokens, tokens, 1, channels, "query", "key", "value", "proj_attn", false, null)
                : l.attention(a, tokens, tokens, 1, channels, "to_q", "to_k", "to_v", "to_out.0", false, null);
        h = l.g.op(a, "Add", l.fromTokens(a, attended, h), h);
        return l.resnet(p + ".resnets.1", h, null, groups, EPS);
    }

    /** The AutoencoderKL config values both halves use. */
    private record Config(int[] channels, int groups, int layers, int latent) {
        static Config of(JsonConfig c) {
            int[] channels = c.getIntArray("block_out_channels").orElseThrow(() -> new ConfigException(c.source() + ": no block_out_channels"));
            for (String key : new String[] {"down_block_types", "up_block_types"}) {
                for (String t : c.getStringList(key).orElse(java.util.List.of())) {
                    if (!t.equals("DownEncoderBlock2D") && !t.equals("UpDecoderBlock2D")) {
                        throw new ConfigException(c.source() + ": " + key + " has " + t + "; the ONNX exporter handles AutoencoderKL's"
                                + " DownEncoderBlock2D/UpDecoderBlock2D");
                    }
                }
            }
            return new Config(channels, c.getInt("norm_num_groups", 32), c.getInt("layers_per_block", 1), c.getInt("latent_channels", 4));
        }
    }
}
