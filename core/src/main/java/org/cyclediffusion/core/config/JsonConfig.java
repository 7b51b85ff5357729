package org.cyclediffusion.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A diffusers/transformers JSON config (the constructor's arguments saved as JSON), read with
 * typed accessors that take diffusers' defaults. Keys read are remembered so that
 * {@link #warnUnknownKeys} can name, with the file, every key nobody asked for.
 */
public final class JsonConfig {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final System.Logger LOG = System.getLogger(JsonConfig.class.getName());

    private final ObjectNode root;
    private final String source;
    private final Set<String> read = new LinkedHashSet<>();
    private final boolean quiet;

    public JsonConfig(ObjectNode root, String source) {
        this(root, source, false);
    }

    private JsonConfig(ObjectNode root, String source, boolean quiet) {
        this.root = root;
        this.source = source;
        this.quiet = quiet;
    }

    /** A fresh copy that reports nothing: for rebuilding an object whose config was already checked once. */
    public JsonConfig quietCopy() {
        return new JsonConfig(root.deepCopy(), source, true);
    }

    public static JsonConfig read(Path file) {
        try {
            JsonNode node = MAPPER.readTree(Files.readString(file));
            if (!(node instanceof ObjectNode obj)) {
                throw new ConfigException(file + ": expected a JSON object, found " + (node == null ? "nothing" : node.getNodeType()));
            }
            return new JsonConfig(obj, file.toString());
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": file not found");
        } catch (IOException e) {
            throw new ConfigException(file + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
    }

    public static JsonConfig parse(String json, String source) {
        try {
            JsonNode node = MAPPER.readTree(json);
            if (!(node instanceof ObjectNode obj)) {
                throw new ConfigException(source + ": expected a JSON object");
            }
            return new JsonConfig(obj, source);
        } catch (IOException e) {
            throw new ConfigException(source + ": not valid JSON (" + e.getMessage() + ")", e);
        }
    }

    /** Where this config came from (a file path), for error messages. */
    public String source() {
        return source;
    }

    public ObjectNode node() {
        return root;
    }

    public boolean has(String key) {
        return root.has(key) && !root.get(key).isNull();
    }

    public Optional<JsonNode> get(String key) {
        read.add(key);
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? Optional.empty() : Optional.of(n);
    }

    public int getInt(String key, int defaultValue) {
        return get(key).map(n -> {
            if (!n.isIntegralNumber()) {
                throw wrongType(key, "an integer", n);
            }
            return n.intValue();
        }).orElse(defaultValue);
    }

    public double getDouble(String key, double defaultValue) {
        return get(key).map(n -> {
            if (!n.isNumber()) {
                throw wrongType(key, "a number", n);
            }
            return n.doubleValue();
        }).orElse(defaultValue);
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        return get(key).map(n -> {
            if (!n.isBoolean()) {
                throw wrongType(key, "true or false", n);
            }
            return n.booleanValue();
        }).orElse(defaultValue);
    }

    public String getString(String key, String defaultValue) {
        return get(key).map(n -> {
            if (!n.isTextual()) {
                throw wrongType(key, "a string", n);
            }
            return n.textValue();
        }).orElse(defaultValue);
    }

    /** An int list; a single number is accepted as a one-element list (diffusers allows both). */
    public Optional<int[]> getIntArray(String key) {
        return get(key).map(n -> {
            if (n.isIntegralNumber()) {
                return new int[] {n.intValue()};
            }
            if (!n.isArray()) {
                throw wrongType(key, "a list of integers", n);
            }
            int[] out = new int[n.size()];
            for (int i = 0; i < out.length; i++) {
                if (!n.get(i).isIntegralNumber()) {
                    throw wrongType(key, "a list of integers", n);
                }
                out[i] = n.get(i).intValue();
            }
            return out;
        });
    }

    public Optional<double[]> getDoubleArray(String key) {
        return get(key).map(n -> {
            if (!n.isArray()) {
                throw wrongType(key, "a list of numbers", n);
            }
            double[] out = new double[n.size()];
            for (int i = 0; i < out.length; i++) {
                if (!n.get(i).isNumber()) {
                    throw wrongType(key, "a list of numbers", n);
                }
                out[i] = n.get(i).doubleValue();
            }
            return out;
        });
    }

    public Optional<List<String>> getStringList(String key) {
        return get(key).map(n -> {
            if (!n.isArray()) {
                throw wrongType(key, "a list of strings", n);
            }
            List<String> out = new ArrayList<>();
            for (JsonNode e : n) {
                out.add(e.isNull() ? null : e.asText());
            }
            return out;
        });
    }

    /** A nested object as a config of its own (e.g. {@code vision_config} inside a CLIP config). */
    public Optional<JsonConfig> getObject(String key) {
        return get(key).map(n -> {
            if (!(n instanceof ObjectNode obj)) {
                throw wrongType(key, "an object", n);
            }
            return new JsonConfig(obj, source + " → " + key);
        });
    }

    /** Keys present in the file but never read, other than private ones ({@code _class_name}, ...). */
    public List<String> unreadKeys() {
        List<String> out = new ArrayList<>();
        for (Iterator<String> it = root.fieldNames(); it.hasNext();) {
            String k = it.next();
            if (!k.startsWith("_") && !read.contains(k)) {
                out.add(k);
            }
        }
        return out;
    }

    /**
     * Logs one warning naming the file and every key in it that was not read, except those in
     * {@code ignored} (keys diffusers itself accepts and ignores). Returns the keys warned about.
     */
    public List<String> warnUnknownKeys(Set<String> ignored) {
        List<String> unknown = new ArrayList<>(unreadKeys());
        unknown.removeAll(ignored);
        if (!unknown.isEmpty() && !quiet) {
            LOG.log(System.Logger.Level.WARNING, source + ": ignoring unknown keys " + unknown);
        }
        return unknown;
    }

    /** An error for a field whose value we do not implement, naming file, field and value. */
    public ConfigException unsupported(String key, Object value, String expected) {
        return new ConfigException(source + ": " + key + " = " + value + " is not supported (expected " + expected + ")");
    }

    private ConfigException wrongType(String key, String expected, JsonNode found) {
        return new ConfigException(source + ": " + key + " must be " + expected + ", found " + found);
    }
}
