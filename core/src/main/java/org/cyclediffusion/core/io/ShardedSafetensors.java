package org.cyclediffusion.core.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.io.SafetensorsFile.TensorInfo;

/**
 * A checkpoint saved in shards, as {@code save_pretrained} writes a large model: an index
 * ({@code diffusion_pytorch_model.safetensors.index.json}, {@code model.safetensors.index.json},
 * with a variant {@code ….safetensors.index.fp16.json}) whose {@code weight_map} names, for every
 * tensor, the safetensors file beside it that holds it ({@code …-00001-of-00003.safetensors}).
 *
 * <p>Each shard is opened once and its header validated as {@link SafetensorsFile} does; the index
 * and the shards must agree exactly: every tensor the index places in a shard is there, and every
 * tensor of a shard is placed there by the index (diffusers loads whatever each shard holds, so a
 * tensor the index does not list, or one that two shards hold, would be loaded by one reader and
 * not another). A shard name must be a plain file name in the index's folder, as
 * {@code _get_checkpoint_shard_files} requires. {@link #buffer} maps the bytes from the shard, so
 * a backend that drops resident pages of weights sees a file mapping, as with a single file.
 */
public final class ShardedSafetensors implements TensorSource {
    /** Strict JSON, as for a safetensors header: a repeated tensor name is an error, not the last one winning. */
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path index;
    private final List<SafetensorsFile> shards;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, SafetensorsFile> shardOf;

    private ShardedSafetensors(Path index, List<SafetensorsFile> shards, Map<String, TensorInfo> tensors,
            Map<String, SafetensorsFile> shardOf) {
        this.index = index;
        this.shards = List.copyOf(shards);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.shardOf = shardOf;
    }

    /**
     * Whether a file name is a safetensors shard index: {@code *.safetensors.index.json},
     * {@code *.safetensors.index.VARIANT.json}, or the deprecated {@code *.safetensors.VARIANT.index.json}
     * of diffusers 0.29 and 0.30.
     */
    public static boolean isIndex(String fileName) {
        return fileName.endsWith(".json") && fileName.contains(".safetensors.index.")
                || fileName.endsWith(".index.json") && fileName.contains(".safetensors.");
    }

    /**
     * The index's {@code weight_map}, tensor name to shard file name, in the order of the index;
     * fails naming the file and the field when it is not an object of strings or a shard name is
     * not a plain file name.
     */
    public static Map<String, String> weightMap(Path index) {
        JsonNode root;
        try {
            root = MAPPER.readTree(Files.readString(index));
        } catch (NoSuchFileException e) {
            throw new ConfigException(index + ": shard index not found");
        } catch (JsonProcessingException e) {
            throw new ConfigException(index + ": shard index is not valid JSON (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new ConfigException(index + ": cannot read the shard index (" + e + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException(index + ": shard index must be a JSON object {\"metadata\": …, \"weight_map\": {tensor: file}}");
        }
        JsonNode map = root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new ConfigException(index + ": shard index has no \"weight_map\" object (expected {\"weight_map\": {tensor name: shard"
                    + " file}}, as save_pretrained writes it), found " + (map == null ? "none" : map.getNodeType().toString().toLowerCase()));
        }
        if (map.isEmpty()) {
            throw new ConfigException(index + ": \"weight_map\" is empty; a shard index names at least one tensor");
        }
        Map<String, String> out = new LinkedHashMap<>();
        map.fields().forEachRemaining(e -> {
            if (!e.getValue().isTextual()) {
                throw new ConfigException(index + ": \"weight_map\" entry '" + e.getKey() + "' must name a shard file, found " + e.getValue());
            }
            String shard = e.getValue().textValue();
            checkShardName(index, e.getKey(), shard);
            out.put(e.getKey(), shard);
        });
        return out;
    }

    /**
     * Refuses a shard name that could reach outside the index's folder: the name of a file beside
     * the index, nothing else (diffusers and transformers require the same).
     */
    private static void checkShardName(Path index, String tensor, String shard) {
        boolean plain = !shard.isEmpty() && !shard.equals(".") && !shard.equals("..") && shard.indexOf('/') < 0 && shard.indexOf('\\') < 0
                && shard.indexOf(':') < 0 && shard.indexOf('\0') < 0;
        if (!plain) {
            throw new ConfigException(index + ": \"weight_map\" places tensor '" + tensor + "' in \"" + shard
                    + "\", which is not a plain file name; shards must be files in the index's own folder (no path, no '..')");
        }
    }

    /** The shard files the index names, each once, sorted; each must exist. Nothing is opened. */
    public static List<Path> shardFiles(Path index) {
        List<Path> out = new ArrayList<>();
        Path dir = index.toAbsolutePath().getParent();
        for (String shard : new TreeSet<>(weightMap(index).values())) {
            Path p = dir.resolve(shard);
            if (!Files.isRegularFile(p)) {
                throw new ConfigException(p + ": shard file not found (" + index.getFileName() + " places tensors in it; the shards of"
                        + " a sharded checkpoint must all be in " + dir + ")");
            }
            out.add(p);
        }
        return out;
    }

    /** Opens the index and every shard it names; on any failure the shards opened so far are closed before the exception leaves. */
    public static ShardedSafetensors open(Path index) {
        Map<String, String> weightMap = weightMap(index);
        List<Path> files = shardFiles(index);
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
            for (Path f : files) {
                SafetensorsFile st = SafetensorsFile.open(f);
                opened.add(st);
                byName.put(f.getFileName().toString(), st);
            }
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                SafetensorsFile st = byName.get(e.getValue());
                if (!st.has(e.getKey())) {
                    throw new ConfigException(index + ": \"weight_map\" places tensor '" + e.getKey() + "' in " + e.getValue()
                            + ", which does not hold it (" + st.path() + " has " + st.tensors().size() + " tensors)");
                }
                tensors.put(e.getKey(), st.info(e.getKey()));
                shardOf.put(e.getKey(), st);
            }
            // Every tensor a shard holds must be placed there: diffusers loads each shard whole.
            Map<String, String> holder = new LinkedHashMap<>();
            for (SafetensorsFile st : opened) {
                String name = st.path().getFileName().toString();
                for (String t : st.tensors().keySet()) {
                    String other = holder.putIfAbsent(t, name);
                    if (other != null) {
                        throw new ConfigException(index + ": tensor '" + t + "' is in two shards, " + other + " and " + name
                                + "; a sharded checkpoint stores each tensor once");
                    }
                    if (!weightMap.containsKey(t)) {
                        throw new ConfigException(index + ": shard " + name + " holds tensor '" + t + "', which \"weight_map\" does not"
                                + " list; the index does not match its shards");
                    }
                }
            }
            return new ShardedSafetensors(index, opened, tensors, shardOf);
        } catch (RuntimeException e) {
            throw Closeables.closeAfter(e, opened);
        }
    }

    /** The index file. */
    @Override
    public Path path() {
        return index;
    }

    /** The shard files, sorted by name. */
    public List<Path> shards() {
        return shards.stream().map(SafetensorsFile::path).toList();
    }

    /** Every tensor of the index, in its order, with the dtype, shape and offsets its shard gives. */
    @Override
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The tensor's bytes, memory-mapped from the shard that holds it. */
    @Override
    public ByteBuffer buffer(String name) {
        return shardOf.get(info(name).name()).buffer(tensors.get(name));
    }

    /** The shard holding a tensor, for messages. */
    public Path shardOf(String name) {
        info(name);
        return shardOf.get(name).path();
    }

    @Override
    public String describe() {
        return index + " (sharded, " + shards.size() + " files)";
    }

    /** Closes every shard (idempotent); buffers already returned stay readable. */
    @Override
    public void close() {
        Closeables.closeAll(shards);
    }
}
