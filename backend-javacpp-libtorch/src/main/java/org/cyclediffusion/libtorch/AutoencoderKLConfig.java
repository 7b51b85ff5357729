package org.cyclediffusion.libtorch;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.libtorch.layers.Activation;

/**
 * {@code vae/config.json} as diffusers v0.23.0's {@code AutoencoderKL} reads it, with its defaults
 * (block_out_channels (64,), layers_per_block 1, 4 latent channels, 32 groups, silu, scaling_factor
 * 0.18215, force_upcast true). Only {@code DownEncoderBlock2D} / {@code UpDecoderBlock2D} blocks
 * exist in Stable Diffusion VAEs; anything else fails at load, naming file, field and value.
 */
record AutoencoderKLConfig(String source, int inChannels, int outChannels, int[] blockOutChannels, int layersPerBlock,
        int latentChannels, int normNumGroups, float scalingFactor, boolean forceUpcast) {

    static AutoencoderKLConfig read(JsonConfig c) {
        int[] channels = c.getIntArray("block_out_channels").orElse(new int[] {64});
        List<String> down = c.getStringList("down_block_types").orElse(List.of("DownEncoderBlock2D"));
        List<String> up = c.getStringList("up_block_types").orElse(List.of("UpDecoderBlock2D"));
        for (String t : down) {
            if (!"DownEncoderBlock2D".equals(t)) {
                throw c.unsupported("down_block_types", down, "only DownEncoderBlock2D blocks");
            }
        }
        for (String t : up) {
            if (!"UpDecoderBlock2D".equals(t)) {
                throw c.unsupported("up_block_types", up, "only UpDecoderBlock2D blocks");
            }
        }
        if (down.size() != channels.length || up.size() != channels.length) {
            throw c.unsupported("block_out_channels", Arrays.toString(channels),
                    "one entry per down and up block (" + down.size() + " down, " + up.size() + " up)");
        }
        Activation.read(c, "act_fn", "silu", Activation.SILU);
        int groups = c.getInt("norm_num_groups", 32);
        for (int ch : channels) {
            if (groups <= 0 || ch % groups != 0) {
                throw c.unsupported("norm_num_groups", groups, "a divisor of every block_out_channels entry " + Arrays.toString(channels));
            }
        }
        // Switches later diffusers versions added; v0.23.0 always has these parts.
        for (String always : new String[] {"use_quant_conv", "use_post_quant_conv", "mid_block_add_attention"}) {
            if (!c.getBoolean(always, true)) {
                throw c.unsupported(always, false, "true (diffusers v0.23.0 has no such switch)");
            }
        }
        AutoencoderKLConfig config = new AutoencoderKLConfig(c.source(),
                c.getInt("in_channels", 3),
                c.getInt("out_channels", 3),
                channels,
                c.getInt("layers_per_block", 1),
                c.getInt("latent_channels", 4),
                groups,
                (float) c.getDouble("scaling_factor", 0.18215),
                c.getBoolean("force_upcast", true));
        c.getInt("sample_size", 32);
        c.warnUnknownKeys(Set.of());
        return config;
    }

    /** Spatial down-sampling of the encoder, diffusers' {@code vae_scale_factor}: 2^(levels − 1). */
    int scaleFactor() {
        return 1 << (blockOutChannels.length - 1);
    }
}
