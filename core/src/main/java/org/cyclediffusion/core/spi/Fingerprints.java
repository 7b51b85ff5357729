package org.cyclediffusion.core.spi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;

/** The fingerprints {@link SchedulerFactory} implementations report, computed the same way by every sampler. */
public final class Fingerprints {
    private Fingerprints() {
    }

    /** {@code sha256:} of the float32 betas (little endian), which also fixes the number of training timesteps. */
    public static String noiseSchedule(float[] betas) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * betas.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(betas.length);
        for (float v : betas) {
            b.putFloat(v);
        }
        return sha256(b.array());
    }

    /**
     * {@code sha256:} of a config object with its keys sorted and diffusers' bookkeeping keys
     * ({@code _class_name}, {@code _diffusers_version}, ...) left out, prefixed by the class name.
     */
    public static String config(String className, ObjectNode effectiveConfig) {
        StringBuilder s = new StringBuilder(className).append('\n');
        List<String> keys = new ArrayList<>();
        effectiveConfig.fieldNames().forEachRemaining(keys::add);
        Collections.sort(keys);
        for (String k : keys) {
            if (!k.startsWith("_")) {
                JsonNode v = effectiveConfig.get(k);
                s.append(k).append('=').append(v.toString()).append('\n');
            }
        }
        return sha256(s.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static String sha256(byte[] bytes) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is a required algorithm of every Java platform", e);
        }
    }
}
