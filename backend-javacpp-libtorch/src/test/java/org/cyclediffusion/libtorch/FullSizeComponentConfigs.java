package org.cyclediffusion.libtorch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.cyclediffusion.core.config.JsonConfig;

/**
 * The full-size SD v1.4/v1.5 and v2.1 VAE, text encoder and safety checker configs with diffusers'
 * / transformers' parameter counts, copied unchanged from
 * {@code /work/shared/reference/full_size_configs.json} into {@code full_size_configs.json}
 * (the UNets are in {@code unet/full_size_unet_configs.json}).
 */
final class FullSizeComponentConfigs {
    static final String VAE = "sd_vae";
    static final String SD15_TEXT_ENCODER = "sd15_text_encoder";
    static final String SD21_TEXT_ENCODER = "sd21_text_encoder";
    static final String SAFETY_CHECKER = "sd_safety_checker";

    private static final String RESOURCE = "full_size_configs.json";

    private FullSizeComponentConfigs() {
    }

    /**
     * The config as the component's {@code config.json} would hold it. The reference lists the
     * safety checker's vision-tower keys flat beside {@code projection_dim}; its
     * {@code safety_checker/config.json} is a {@code CLIPConfig}, with {@code projection_dim} at the
     * top and the tower's keys under {@code vision_config}, so that entry is nested that way here.
     */
    static JsonConfig config(String key) {
        ObjectNode flat = (ObjectNode) entry(key).get("config").deepCopy();
        if (!key.equals(SAFETY_CHECKER)) {
            return new JsonConfig(flat, RESOURCE + " → " + key);
        }
        ObjectNode clip = JsonNodeFactory.instance.objectNode();
        clip.set("projection_dim", flat.remove("projection_dim"));
        clip.set("vision_config", flat);
        return new JsonConfig(clip, RESOURCE + " → " + key);
    }

    /** {@code sum(p.numel() for p in model.parameters())} as the reference gives it. */
    static long parameterCount(String key) {
        return entry(key).get("params").asLong();
    }

    private static JsonNode entry(String key) {
        try (InputStream in = FullSizeComponentConfigs.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("test resource " + RESOURCE + " not found");
            }
            JsonNode node = new ObjectMapper().readTree(in).get(key);
            if (node == null) {
                throw new IllegalArgumentException(RESOURCE + " has no entry " + key);
            }
            return node;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
