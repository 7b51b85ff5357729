package org.cyclediffusion.core.checkpoint;

/**
 * LDM's {@code AutoencoderKL} names → diffusers' (v0.23.0 {@code convert_ldm_vae_checkpoint},
 * attention names of diffusers ≥ 0.14): {@code encoder.down.i.block.j} → {@code down_blocks.i.resnets.j},
 * the decoder's {@code up.k} counted from the bottom → {@code up_blocks.(levels − 1 − k)},
 * {@code mid.block_1/attn_1/block_2}, {@code nin_shortcut} → {@code conv_shortcut}, {@code norm_out} → {@code conv_norm_out}, and the mid
 * attention's {@code norm/q/k/v/proj_out} → {@code group_norm/to_q/to_k/to_v/to_out.0} (stored as
 * 1×1 convolutions; {@link #isAttentionProjection} says which weights become linear).
 */
final class LdmVaeNames {
    static final String PREFIX = "first_stage_model.";

    private LdmVaeNames() {
    }

    static String toDiffusers(String ldm, int levels) {
        String[] p = ldm.split("\\.");
        if (p.length == 3 && p[1].equals("norm_out")) {
            return p[0] + ".conv_norm_out." + p[2];
        }
        if (p.length >= 5 && p[0].equals("encoder") && p[1].equals("down") && LdmUNetNames.isIndex(p[2])) {
            String tail = join(p, 4);
            if (p[3].equals("block") && p.length >= 6 && LdmUNetNames.isIndex(p[4])) {
                return "encoder.down_blocks." + p[2] + ".resnets." + p[4] + "." + resnet(join(p, 5));
            }
            if (p[3].equals("downsample")) {
                return "encoder.down_blocks." + p[2] + ".downsamplers.0." + tail;
            }
        }
        if (p.length >= 5 && p[0].equals("decoder") && p[1].equals("up") && LdmUNetNames.isIndex(p[2])) {
            int level = levels - 1 - Integer.parseInt(p[2]);
            if (p[3].equals("block") && p.length >= 6 && LdmUNetNames.isIndex(p[4])) {
                return "decoder.up_blocks." + level + ".resnets." + p[4] + "." + resnet(join(p, 5));
            }
            if (p[3].equals("upsample")) {
                return "decoder.up_blocks." + level + ".upsamplers.0." + join(p, 4);
            }
        }
        if (p.length >= 4 && (p[0].equals("encoder") || p[0].equals("decoder")) && p[1].equals("mid")) {
            String rest = join(p, 3);
            return switch (p[2]) {
                case "block_1" -> p[0] + ".mid_block.resnets.0." + resnet(rest);
                case "block_2" -> p[0] + ".mid_block.resnets.1." + resnet(rest);
                case "attn_1" -> p[0] + ".mid_block.attentions.0." + attention(rest);
                default -> ldm;
            };
        }
        return ldm;
    }

    /** The q/k/v/out weights of the mid attention: 1×1 convolutions in the file, linear layers in diffusers. */
    static boolean isAttentionProjection(String diffusersName) {
        return diffusersName.contains(".mid_block.attentions.") && diffusersName.endsWith(".weight")
                && !diffusersName.contains(".group_norm.");
    }

    private static String resnet(String rest) {
        return rest.startsWith("nin_shortcut.") ? "conv_shortcut." + rest.substring("nin_shortcut.".length()) : rest;
    }

    private static String attention(String rest) {
        String[][] map = {{"norm.", "group_norm."}, {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
        for (String[] m : map) {
            if (rest.startsWith(m[0])) {
                return m[1] + rest.substring(m[0].length());
            }
        }
        return rest;
    }

    private static String join(String[] p, int from) {
        return String.join(".", java.util.Arrays.asList(p).subList(from, p.length));
    }
}
