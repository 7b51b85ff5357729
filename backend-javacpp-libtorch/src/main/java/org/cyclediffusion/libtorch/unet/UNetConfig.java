package org.cyclediffusion.libtorch.unet;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;

/**
 * The {@code unet/config.json} of a diffusers v0.23.0 {@code UNet2DConditionModel}, resolved to
 * one value per block exactly as its constructor does, and restricted to what Stable Diffusion 1.x
 * and 2.x use. Every field is read with diffusers' default; a value we do not implement fails with
 * {@link JsonConfig#unsupported} naming the file, the field and the value.
 *
 * <p>Head counts: diffusers v0.23.0 rejects {@code num_attention_heads} and uses
 * {@code attention_head_dim} as the <em>number of heads</em> ({@code num_attention_heads =
 * num_attention_heads or attention_head_dim}); the head size is then {@code channels // heads}.
 *
 * @param source                    the config's file, for error messages
 * @param inChannels                latent channels in ({@code in_channels})
 * @param outChannels               channels out ({@code out_channels})
 * @param centerInputSample         {@code center_input_sample}: feed {@code 2·sample − 1}
 * @param flipSinToCos              {@code flip_sin_to_cos} of the sinusoidal timestep embedding
 * @param freqShift                 {@code freq_shift} ({@code downscale_freq_shift})
 * @param downBlocks                {@code down_block_types}
 * @param upBlocks                  {@code up_block_types}
 * @param blockOutChannels          {@code block_out_channels}
 * @param layersPerBlock            {@code layers_per_block}, per down block
 * @param transformerLayersPerBlock {@code transformer_layers_per_block}, per down block
 * @param heads                     attention heads per down block (see above)
 * @param crossAttentionDim         {@code cross_attention_dim}, per down block
 * @param downsamplePadding         {@code downsample_padding}
 * @param midBlockScaleFactor       {@code mid_block_scale_factor} (the mid-block resnets' output scale)
 * @param normNumGroups             {@code norm_num_groups}
 * @param normEps                   {@code norm_eps}
 * @param useLinearProjection       {@code use_linear_projection} (Linear instead of 1×1 conv proj_in/out)
 * @param upcastAttention           {@code upcast_attention}
 * @param timeEmbedDim              {@code time_embedding_dim}, or {@code block_out_channels[0]·4}
 * @param convInKernel              {@code conv_in_kernel}
 * @param convOutKernel             {@code conv_out_kernel}
 */
public record UNetConfig(
        String source,
        int inChannels,
        int outChannels,
        boolean centerInputSample,
        boolean flipSinToCos,
        double freqShift,
        List<BlockType> downBlocks,
        List<BlockType> upBlocks,
        int[] blockOutChannels,
        int[] layersPerBlock,
        int[] transformerLayersPerBlock,
        int[] heads,
        int[] crossAttentionDim,
        int downsamplePadding,
        double midBlockScaleFactor,
        int normNumGroups,
        double normEps,
        boolean useLinearProjection,
        boolean upcastAttention,
        int timeEmbedDim,
        int convInKernel,
        int convOutKernel) {

    /** The block types SD 1.x/2.x use; diffusers also accepts them with a {@code UNetRes} prefix. */
    public enum BlockType {
        CROSS_ATTN_DOWN("CrossAttnDownBlock2D", true, true),
        DOWN("DownBlock2D", false, true),
        CROSS_ATTN_UP("CrossAttnUpBlock2D", true, false),
        UP("UpBlock2D", false, false);

        private final String diffusersName;
        private final boolean crossAttention;
        private final boolean down;

        BlockType(String diffusersName, boolean crossAttention, boolean down) {
            this.diffusersName = diffusersName;
            this.crossAttention = crossAttention;
            this.down = down;
        }

        public String diffusersName() {
            return diffusersName;
        }

        public boolean hasCrossAttention() {
            return crossAttention;
        }
    }

    /**
     * Keys diffusers v0.23.0 accepts whose value cannot change what these blocks compute, so any
     * value is fine: they only configure blocks or embeddings we reject elsewhere, or dropout.
     */
    private static final Set<String> NO_EFFECT_KEYS = Set.of(
            "sample_size", // only a default for pipelines
            "dropout", // inference: identity
            "resnet_skip_time_act", "resnet_out_scale_factor", "cross_attention_norm", // Simple*/ResnetDownsample blocks only
            "mid_block_only_cross_attention", // UNetMidBlock2DSimpleCrossAttn only
            "addition_time_embed_dim", "addition_embed_type_num_heads", // addition_embed_type only
            "projection_class_embeddings_input_dim"); // class_embed_type "projection" or addition "text_time" only

    /** Reads and validates a UNet config; logs one warning naming keys diffusers v0.23.0 does not know. */
    public static UNetConfig from(JsonConfig c) {
        String cls = c.node().path("_class_name").asText("UNet2DConditionModel");
        if (!cls.equals("UNet2DConditionModel")) {
            throw c.unsupported("_class_name", cls, "UNet2DConditionModel");
        }
        for (String key : NO_EFFECT_KEYS) {
            c.get(key);
        }
        requireNull(c, "num_attention_heads", "null: diffusers v0.23.0 takes the head count from attention_head_dim");
        requireNull(c, "class_embed_type", "null (no class embedding)");
        requireNull(c, "num_class_embeds", "null (no class embedding)");
        requireNull(c, "addition_embed_type", "null (no added embedding)");
        requireNull(c, "encoder_hid_dim", "null (encoder hidden states used as given)");
        requireNull(c, "encoder_hid_dim_type", "null (encoder hidden states used as given)");
        requireNull(c, "time_embedding_act_fn", "null");
        requireNull(c, "timestep_post_act", "null");
        requireNull(c, "time_cond_proj_dim", "null");
        requireNull(c, "reverse_transformer_layers_per_block", "null (symmetric transformer depth)");
        requireString(c, "time_embedding_type", "positional");
        requireString(c, "resnet_time_scale_shift", "default");
        requireString(c, "attention_type", "default");
        requireString(c, "mid_block_type", "UNetMidBlock2DCrossAttn");
        if (c.getBoolean("dual_cross_attention", false)) {
            throw c.unsupported("dual_cross_attention", true, "false");
        }
        if (c.getBoolean("class_embeddings_concat", false)) {
            throw c.unsupported("class_embeddings_concat", true, "false (there is no class embedding to concatenate)");
        }
        String act = c.getString("act_fn", "silu");
        if (!act.toLowerCase(Locale.ROOT).equals("silu") && !act.toLowerCase(Locale.ROOT).equals("swish")) {
            throw c.unsupported("act_fn", act, "silu or swish");
        }

        List<BlockType> down = blockTypes(c, "down_block_types",
                List.of("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"), true);
        List<BlockType> up = blockTypes(c, "up_block_types",
                List.of("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), false);
        int n = down.size();
        if (up.size() != n) {
            throw new ConfigException(c.source() + ": down_block_types has " + n + " entries and up_block_types " + up.size()
                    + "; diffusers requires the same number");
        }
        int[] channels = c.getIntArray("block_out_channels").orElse(new int[] {320, 640, 1280, 1280});
        if (channels.length != n) {
            throw new ConfigException(c.source() + ": block_out_channels " + Arrays.toString(channels) + " has " + channels.length
                    + " entries, expected one per down block (" + n + ")");
        }
        requirePositive(c, "block_out_channels", channels);
        onlyCrossAttentionFalse(c, n);
        int[] layers = perBlock(c, "layers_per_block", 2, n);
        requirePositive(c, "layers_per_block", layers);
        int[] transformerLayers = perBlock(c, "transformer_layers_per_block", 1, n);
        requirePositive(c, "transformer_layers_per_block", transformerLayers);
        int[] heads = perBlock(c, "attention_head_dim", 8, n);
        requirePositive(c, "attention_head_dim", heads);
        int[] crossDim = perBlock(c, "cross_attention_dim", 1280, n);
        requirePositive(c, "cross_attention_dim", crossDim);
        for (int i = 0; i < n; i++) {
            // Every block that attends (down block i, the mid block = last, up blocks mirrored) must
            // split its channels evenly into heads: diffusers builds heads·(channels // heads).
            if ((down.get(i).hasCrossAttention() || up.get(n - 1 - i).hasCrossAttention() || i == n - 1) && channels[i] % heads[i] != 0) {
                throw new ConfigException(c.source() + ": block_out_channels[" + i + "] = " + channels[i] + " is not divisible by "
                        + heads[i] + " attention heads (attention_head_dim[" + i + "]); expected a head count that divides the channels");
            }
        }
        if (c.node().has("norm_num_groups") && c.node().get("norm_num_groups").isNull()) {
            throw c.unsupported("norm_num_groups", "null", "a positive integer (GroupNorm everywhere, as in Stable Diffusion)");
        }
        int groups = positive(c, "norm_num_groups", c.getInt("norm_num_groups", 32));
        int convIn = oddKernel(c, "conv_in_kernel");
        int convOut = oddKernel(c, "conv_out_kernel");
        int timeEmbedDim = c.get("time_embedding_dim").map(node -> {
            if (!node.isIntegralNumber() || node.intValue() <= 0) {
                throw c.unsupported("time_embedding_dim", node, "null or a positive integer");
            }
            return node.intValue();
        }).orElse(channels[0] * 4);
        int padding = c.getInt("downsample_padding", 1);
        if (padding < 0) {
            throw c.unsupported("downsample_padding", padding, "0 or more");
        }
        UNetConfig config = new UNetConfig(c.source(),
                positive(c, "in_channels", c.getInt("in_channels", 4)),
                positive(c, "out_channels", c.getInt("out_channels", 4)),
                c.getBoolean("center_input_sample", false),
                c.getBoolean("flip_sin_to_cos", true),
                c.getDouble("freq_shift", 0),
                down, up, channels, layers, transformerLayers, heads, crossDim,
                padding,
                c.getDouble("mid_block_scale_factor", 1),
                groups,
                c.getDouble("norm_eps", 1e-5),
                c.getBoolean("use_linear_projection", false),
                c.getBoolean("upcast_attention", false),
                timeEmbedDim, convIn, convOut);
        c.warnUnknownKeys(Set.of());
        return config;
    }

    /** Number of down (= up) blocks. */
    public int numBlocks() {
        return blockOutChannels.length;
    }

    /** Upsampling layers (every up block but the last); the latent size must divide by 2^this or sizes are forwarded. */
    public int numUpsamplers() {
        return numBlocks() - 1;
    }

    private static void requireNull(JsonConfig c, String key, String expected) {
        c.get(key).ifPresent(v -> {
            throw c.unsupported(key, v, expected);
        });
    }

    /** A string field that must equal its only supported value (absent means diffusers' default, that value). */
    private static void requireString(JsonConfig c, String key, String expected) {
        if (c.node().has(key) && c.node().get(key).isNull()) {
            // an explicit null is not the default here: diffusers would build something else or fail
            throw c.unsupported(key, "null", "\"" + expected + "\"");
        }
        String value = c.getString(key, expected);
        if (!value.equals(expected)) {
            throw c.unsupported(key, "\"" + value + "\"", "\"" + expected + "\"");
        }
    }

    private static int positive(JsonConfig c, String key, int value) {
        if (value <= 0) {
            throw c.unsupported(key, value, "a positive integer");
        }
        return value;
    }

    private static void requirePositive(JsonConfig c, String key, int[] values) {
        for (int v : values) {
            if (v <= 0) {
                throw c.unsupported(key, Arrays.toString(values), "positive integers");
            }
        }
    }

    private static int oddKernel(JsonConfig c, String key) {
        int k = c.getInt(key, 3);
        if (k <= 0 || k % 2 == 0) {
            // diffusers pads by (k − 1) // 2, which only keeps the size for odd kernels
            throw c.unsupported(key, k, "an odd positive kernel size");
        }
        return k;
    }

    private static List<BlockType> blockTypes(JsonConfig c, String key, List<String> defaults, boolean down) {
        List<String> names = c.getStringList(key).orElse(defaults);
        if (names.isEmpty()) {
            throw c.unsupported(key, "[]", "at least one block");
        }
        List<BlockType> out = new ArrayList<>();
        for (String name : names) {
            // get_down_block / get_up_block strip a "UNetRes" prefix before dispatching
            String bare = name != null && name.startsWith("UNetRes") ? name.substring(7) : name;
            BlockType match = null;
            for (BlockType t : BlockType.values()) {
                if (t.down == down && t.diffusersName.equals(bare)) {
                    match = t;
                }
            }
            if (match == null) {
                throw c.unsupported(key, names, down ? "CrossAttnDownBlock2D or DownBlock2D entries" : "CrossAttnUpBlock2D or UpBlock2D entries");
            }
            out.add(match);
        }
        return List.copyOf(out);
    }

    /** An int, broadcast to every block, or a list with one entry per block (as diffusers accepts). */
    private static int[] perBlock(JsonConfig c, String key, int defaultValue, int n) {
        JsonNode node = c.get(key).orElse(null);
        if (node == null) {
            int[] out = new int[n];
            Arrays.fill(out, defaultValue);
            return out;
        }
        if (node.isArray()) {
            for (JsonNode e : node) {
                if (e.isArray()) {
                    throw c.unsupported(key, node, "an integer or one integer per block");
                }
            }
        }
        int[] values = c.getIntArray(key).orElseThrow();
        if (!node.isArray()) {
            int[] out = new int[n];
            Arrays.fill(out, values[0]);
            return out;
        }
        if (values.length != n) {
            throw new ConfigException(c.source() + ": " + key + " " + node + " has " + values.length
                    + " entries, expected one per down block (" + n + ") or a single integer");
        }
        return values;
    }

    private static void onlyCrossAttentionFalse(JsonConfig c, int n) {
        JsonNode node = c.get("only_cross_attention").orElse(null);
        if (node == null || node.isBoolean() && !node.booleanValue()) {
            return;
        }
        if (node.isArray() && node.size() == n) {
            boolean any = false;
            for (JsonNode e : node) {
                if (!e.isBoolean()) {
                    throw c.unsupported("only_cross_attention", node, "false or a list of false");
                }
                any |= e.booleanValue();
            }
            if (!any) {
                return;
            }
        }
        throw c.unsupported("only_cross_attention", node, "false (self-attention in attn1)");
    }

    @Override
    public String toString() {
        return "UNetConfig[" + source + ": in " + inChannels + ", out " + outChannels + ", down " + downBlocks + ", up " + upBlocks
                + ", channels " + Arrays.toString(blockOutChannels) + ", layers " + Arrays.toString(layersPerBlock)
                + ", transformer layers " + Arrays.toString(transformerLayersPerBlock) + ", heads " + Arrays.toString(heads)
                + ", cross dim " + Arrays.toString(crossAttentionDim) + ", groups " + normNumGroups + ", eps " + normEps
                + ", linear proj " + useLinearProjection + ", upcast " + upcastAttention + ", time dim " + timeEmbedDim + "]";
    }
}
