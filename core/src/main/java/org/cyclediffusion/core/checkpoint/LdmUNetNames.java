package org.cyclediffusion.core.checkpoint;

/**
 * LDM's {@code openaimodel.UNetModel} names → diffusers' {@code UNet2DConditionModel} names, as
 * diffusers' {@code convert_ldm_unet_checkpoint} maps them (v0.23.0), with the block indices
 * computed from {@code layers_per_block} n instead of SD's hard-coded 2: input block
 * {@code 1 + i·(n+1) + j} is resnet/attention j of down block i, {@code (i+1)·(n+1)} its
 * downsampler; output block {@code i·(n+1) + j} is resnet/attention j of up block i, whose
 * upsampler sits after the attention (index 2) or, in a level without attention, at index 1.
 * Transformer blocks keep their names. An unknown name is returned unchanged, so the weight
 * check names it as unexpected.
 */
final class LdmUNetNames {
    static final String PREFIX = "model.diffusion_model.";

    private LdmUNetNames() {
    }

    static String toDiffusers(String ldm, int layersPerBlock) {
        int n1 = layersPerBlock + 1;
        String[] p = ldm.split("\\.", 4);
        if (ldm.startsWith("time_embed.0.")) {
            return "time_embedding.linear_1." + ldm.substring("time_embed.0.".length());
        }
        if (ldm.startsWith("time_embed.2.")) {
            return "time_embedding.linear_2." + ldm.substring("time_embed.2.".length());
        }
        if (ldm.startsWith("out.0.")) {
            return "conv_norm_out." + ldm.substring("out.0.".length());
        }
        if (ldm.startsWith("out.2.")) {
            return "conv_out." + ldm.substring("out.2.".length());
        }
        if (ldm.startsWith("input_blocks.0.0.")) {
            return "conv_in." + ldm.substring("input_blocks.0.0.".length());
        }
        if (p.length < 4 || !isIndex(p[1]) || !isIndex(p[2])) {
            if (ldm.startsWith("middle_block.") && p.length >= 3 && isIndex(p[1])) {
                String rest = ldm.substring(("middle_block." + p[1] + ".").length());
                return switch (p[1]) {
                    case "0" -> "mid_block.resnets.0." + resnet(rest);
                    case "1" -> "mid_block.attentions.0." + rest;
                    case "2" -> "mid_block.resnets.1." + resnet(rest);
                    default -> ldm;
                };
            }
            return ldm;
        }
        int block = Integer.parseInt(p[1]);
        int sub = Integer.parseInt(p[2]);
        String rest = p[3];
        if (p[0].equals("input_blocks") && block >= 1) {
            int i = (block - 1) / n1;
            int j = (block - 1) % n1;
            if (j == layersPerBlock) {
                return sub == 0 && rest.startsWith("op.") ? "down_blocks." + i + ".downsamplers.0.conv." + rest.substring(3) : ldm;
            }
            return switch (sub) {
                case 0 -> "down_blocks." + i + ".resnets." + j + "." + resnet(rest);
                case 1 -> "down_blocks." + i + ".attentions." + j + "." + rest;
                default -> ldm;
            };
        }
        if (p[0].equals("output_blocks")) {
            int i = block / n1;
            int j = block % n1;
            if (sub == 0) {
                return "up_blocks." + i + ".resnets." + j + "." + resnet(rest);
            }
            if (rest.startsWith("conv.") && (sub == 1 || sub == 2)) {
                return "up_blocks." + i + ".upsamplers.0." + rest;
            }
            return sub == 1 ? "up_blocks." + i + ".attentions." + j + "." + rest : ldm;
        }
        return ldm;
    }

    private static String resnet(String rest) {
        for (String[] m : RESNET) {
            if (rest.startsWith(m[0])) {
                return m[1] + rest.substring(m[0].length());
            }
        }
        return rest;
    }

    private static final String[][] RESNET = {
        {"in_layers.0.", "norm1."}, {"in_layers.2.", "conv1."}, {"emb_layers.1.", "time_emb_proj."},
        {"out_layers.0.", "norm2."}, {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."},
    };

    static boolean isIndex(String s) {
        return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
    }
}
