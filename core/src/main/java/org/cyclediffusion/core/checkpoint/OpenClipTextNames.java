package org.cyclediffusion.core.checkpoint;

import java.util.List;
import org.cyclediffusion.core.io.SafetensorsFile.TensorInfo;

/**
 * OpenCLIP text tower names (SD 2.x checkpoints) → transformers' {@code CLIPTextModel}, as
 * diffusers' {@code convert_open_clip_checkpoint} maps them (v0.23.0). The fused
 * {@code attn.in_proj_weight/bias} is {@code cat(q, k, v)} along dim 0, so each projection is a
 * contiguous third of the stored bytes. The resblock after the last layer the config keeps (SD 2.x
 * reads the penultimate layer; diffusers' folders drop it), {@code text_projection} and
 * {@code logit_scale} are not part of the text encoder and are left out.
 */
final class OpenClipTextNames {
    private static final String RESBLOCKS = "transformer.resblocks.";

    private OpenClipTextNames() {
    }

    /**
     * @param t      the stored entry, its name without {@code cond_stage_model.model.}
     * @param layers {@code num_hidden_layers} of the text encoder config
     * @return the entries under diffusers' names: none, one, or three for a fused projection
     */
    static List<TensorInfo> toDiffusers(TensorInfo t, int layers) {
        String name = t.name();
        switch (name) {
            case "token_embedding.weight":
                return List.of(RemappedTensors.renamed(t, "text_model.embeddings.token_embedding.weight"));
            case "positional_embedding":
                return List.of(RemappedTensors.renamed(t, "text_model.embeddings.position_embedding.weight"));
            case "text_projection", "logit_scale":
                return List.of();
            default:
                break;
        }
        if (name.startsWith("ln_final.")) {
            return List.of(RemappedTensors.renamed(t, "text_model.final_layer_norm." + name.substring("ln_final.".length())));
        }
        if (!name.startsWith(RESBLOCKS)) {
            return List.of(t);
        }
        String[] p = name.substring(RESBLOCKS.length()).split("\\.", 2);
        if (p.length < 2 || !LdmUNetNames.isIndex(p[0])) {
            return List.of(t);
        }
        int layer = Integer.parseInt(p[0]);
        if (layer == layers) {
            return List.of();
        }
        String layerPrefix = "text_model.encoder.layers." + layer + ".";
        String rest = p[1];
        if (rest.equals("attn.in_proj_weight") || rest.equals("attn.in_proj_bias")) {
            return splitQkv(t, layerPrefix + "self_attn.", rest.endsWith("weight") ? "weight" : "bias");
        }
        String[][] map = {{"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."}, {"mlp.c_fc.", "mlp.fc1."}, {"mlp.c_proj.", "mlp.fc2."},
            {"attn.out_proj.", "self_attn.out_proj."}};
        for (String[] m : map) {
            if (rest.startsWith(m[0])) {
                return List.of(RemappedTensors.renamed(t, layerPrefix + m[1] + rest.substring(m[0].length())));
            }
        }
        return List.of(t);
    }

    private static List<TensorInfo> splitQkv(TensorInfo t, String prefix, String kind) {
        long[] shape = t.shape();
        if (shape.length == 0 || shape[0] % 3 != 0) {
            return List.of(t); // not a fused projection: the weight check reports it
        }
        shape[0] /= 3;
        long third = t.byteSize() / 3;
        String[] names = {"q_proj", "k_proj", "v_proj"};
        TensorInfo[] out = new TensorInfo[3];
        for (int i = 0; i < 3; i++) {
            out[i] = new TensorInfo(prefix + names[i] + "." + kind, t.dtype(), shape, t.begin() + i * third, t.begin() + (i + 1) * third);
        }
        return List.of(out);
    }
}
