package org.cyclediffusion.libtorch.unet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import org.cyclediffusion.core.config.JsonConfig;

/**
 * The full-size UNet configs of SD v1.4/v1.5 and SD v2.1 with diffusers' parameter counts, copied
 * from {@code /work/shared/reference/full_size_configs.json} into {@code full_size_unet_configs.json}.
 */
final class FullSizeConfigs {
    private static final String RESOURCE = "full_size_unet_configs.json";

    private FullSizeConfigs() {
    }

    /** {@code key} is {@code sd15_unet} or {@code sd21_unet}. */
    static JsonConfig config(String key) {
        return new JsonConfig((ObjectNode) entry(key).get("config").deepCopy(), RESOURCE + " → " + key);
    }

    /** diffusers' {@code sum(p.numel() for p in unet.parameters())}. */
    static long parameterCount(String key) {
        return entry(key).get("params").asLong();
    }

    private static JsonNode entry(String key) {
        try (InputStream in = FullSizeConfigs.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("test resource " + RESOURCE + " not found");
            }
            return new ObjectMapper().readTree(in).get(key);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
