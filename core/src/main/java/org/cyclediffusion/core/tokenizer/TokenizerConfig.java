package org.cyclediffusion.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;

/**
 * What {@code CLIPTokenizer.from_pretrained} takes from {@code tokenizer_config.json} and
 * {@code special_tokens_map.json}: the length diffusers pads and truncates to
 * ({@code model_max_length}), the special tokens, and tokens added to the vocabulary.
 *
 * <p>Precedence as in transformers 4.35: a special token in {@code special_tokens_map.json}
 * replaces the one in {@code tokenizer_config.json} (even with {@code null}); a token absent from
 * both takes {@code CLIPTokenizer}'s default ({@code <|startoftext|>} for bos,
 * {@code <|endoftext|>} for eos, unk and pad). A token is a string or an {@code AddedToken} object
 * ({@code {"content": ..., "lstrip": ..., "rstrip": ..., "single_word": ...}}).
 *
 * @param maxLength                 {@code model_max_length}
 * @param specialTokens             attribute name ({@code bos_token}, ...) to token, in
 *                                  transformers' {@code SPECIAL_TOKENS_ATTRIBUTES} order, absent
 *                                  ones left out; {@code additional_special_tokens} follow as
 *                                  {@code additional_special_tokens[i]}
 * @param addedTokensDecoder        {@code added_tokens_decoder} of a tokenizer saved by
 *                                  transformers 4.34 or later (id to token), else empty
 * @param cleanUpTokenizationSpaces whether {@code decode} removes the space before punctuation
 */
record TokenizerConfig(
        int maxLength,
        Map<String, AddedToken> specialTokens,
        Map<Integer, AddedToken> addedTokensDecoder,
        boolean cleanUpTokenizationSpaces) {

    static final String CONFIG_FILE = "tokenizer_config.json";
    static final String SPECIAL_TOKENS_FILE = "special_tokens_map.json";

    private static final List<String> SPECIAL_ATTRIBUTES =
            List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");
    private static final Map<String, String> CLIP_DEFAULTS = Map.of(
            "bos_token", "<|startoftext|>",
            "eos_token", "<|endoftext|>",
            "unk_token", "<|endoftext|>",
            "pad_token", "<|endoftext|>");
    /** Keys transformers' slow CLIPTokenizer accepts and that change nothing we compute. */
    private static final Set<String> IGNORED_CONFIG_KEYS = Set.of(
            "errors", "add_prefix_space", "do_lower_case", "name_or_path", "special_tokens_map_file",
            "tokenizer_class", "tokenizer_file", "model_input_names", "auto_map", "processor_class",
            "split_special_tokens", "max_len", "init_inputs", "use_fast");
    /**
     * The longest {@code model_max_length} we accept. transformers writes 1e30 ("no limit") when
     * it knows none; diffusers pads every prompt to this length, so it must be the text encoder's
     * context length.
     */
    private static final int MAX_LENGTH_LIMIT = 1 << 20;

    static TokenizerConfig read(Path dir) {
        Path configFile = dir.resolve(CONFIG_FILE);
        VocabularyFiles.requireFile(configFile);
        JsonConfig config = JsonConfig.read(configFile);
        Path mapFile = dir.resolve(SPECIAL_TOKENS_FILE);
        JsonConfig map = Files.isRegularFile(mapFile) ? JsonConfig.read(mapFile) : null;

        int maxLength = readMaxLength(config);
        for (String side : List.of("padding_side", "truncation_side")) {
            String value = config.getString(side, "right");
            if (!value.equals("right")) {
                throw config.unsupported(side, value, "\"right\", as Stable Diffusion tokenizers use");
            }
        }
        boolean cleanUp = config.getBoolean("clean_up_tokenization_spaces", true);

        Map<String, AddedToken> special = new LinkedHashMap<>();
        for (String attr : SPECIAL_ATTRIBUTES) {
            Found f = find(attr, config, map);
            if (f == null) {
                if (CLIP_DEFAULTS.containsKey(attr)) {
                    special.put(attr, AddedToken.plain(CLIP_DEFAULTS.get(attr), true));
                }
            } else if (!f.node().isNull()) {
                special.put(attr, parseToken(f.node(), f.source(), attr));
            }
        }
        String additional = "additional_special_tokens";
        Found list = find(additional, config, map);
        if (list != null && !list.node().isNull()) {
            if (!list.node().isArray()) {
                throw new ConfigException(list.source().source() + ": " + additional + " must be a list, found " + list.node());
            }
            for (int i = 0; i < list.node().size(); i++) {
                String where = additional + "[" + i + "]";
                special.put(where, parseToken(list.node().get(i), list.source(), where));
            }
        }
        for (String required : List.of("bos_token", "eos_token", "pad_token")) {
            if (!special.containsKey(required)) {
                throw new ConfigException(dir + ": " + required + " is null in " + (map != null && map.node().has(required)
                        ? SPECIAL_TOKENS_FILE : CONFIG_FILE) + " (the pipeline frames every prompt with bos and eos and pads it"
                        + " to model_max_length, so the tokenizer needs all three)");
            }
        }

        Map<Integer, AddedToken> addedDecoder = new LinkedHashMap<>();
        config.getObject("added_tokens_decoder").ifPresent(obj -> {
            for (Iterator<Map.Entry<String, JsonNode>> it = obj.node().fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> e = it.next();
                int id;
                try {
                    id = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new ConfigException(obj.source() + ": key " + VocabularyFiles.quote(e.getKey())
                            + " must be a token id", ex);
                }
                String where = "added_tokens_decoder." + e.getKey();
                AddedToken t = parseToken(e.getValue(), config, where);
                JsonNode specialFlag = e.getValue().get("special");
                addedDecoder.put(id, new AddedToken(t.content(), t.lstrip(), t.rstrip(), t.singleWord(),
                        specialFlag != null && specialFlag.asBoolean(false)));
            }
        });

        config.warnUnknownKeys(IGNORED_CONFIG_KEYS);
        if (map != null) {
            map.warnUnknownKeys(Set.of());
        }
        return new TokenizerConfig(maxLength, special, addedDecoder, cleanUp);
    }

    /** Where a special-token key was found, and its value (possibly JSON null). */
    private record Found(JsonConfig source, JsonNode node) {
    }

    /** A special-token key, special_tokens_map.json first; null when neither file has it. */
    private static Found find(String key, JsonConfig config, JsonConfig map) {
        config.get(key); // marks the key as read in both files
        if (map != null) {
            map.get(key);
            if (map.node().has(key)) {
                return new Found(map, map.node().get(key));
            }
        }
        return config.node().has(key) ? new Found(config, config.node().get(key)) : null;
    }

    private static int readMaxLength(JsonConfig config) {
        JsonNode n = config.get("model_max_length").orElseThrow(() -> new ConfigException(config.source()
                + ": model_max_length is missing (expected the text encoder's context length, 77 for CLIP)"));
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() > MAX_LENGTH_LIMIT) {
            throw new ConfigException(config.source() + ": model_max_length must be the text encoder's context length"
                    + " (77 for CLIP), found " + n);
        }
        if (n.intValue() < 3) {
            throw new ConfigException(config.source() + ": model_max_length must be at least 3 (bos, one token, eos),"
                    + " found " + n.intValue());
        }
        return n.intValue();
    }

    /** A special or added token: a string, or an AddedToken object with "content". */
    private static AddedToken parseToken(JsonNode n, JsonConfig source, String where) {
        if (n.isTextual()) {
            requireContent(n.textValue(), source, where);
            return AddedToken.plain(n.textValue(), true);
        }
        if (n.isObject() && n.has("content") && n.get("content").isTextual()) {
            String content = n.get("content").textValue();
            requireContent(content, source, where);
            return new AddedToken(content, flag(n, "lstrip", source, where), flag(n, "rstrip", source, where),
                    flag(n, "single_word", source, where), true);
        }
        throw new ConfigException(source.source() + ": " + where
                + " must be a string or an object with a string \"content\", found " + n);
    }

    private static void requireContent(String content, JsonConfig source, String where) {
        if (content.isEmpty()) {
            throw new ConfigException(source.source() + ": " + where + " is the empty string");
        }
    }

    private static boolean flag(JsonNode token, String name, JsonConfig source, String where) {
        JsonNode f = token.get(name);
        if (f == null || f.isNull()) {
            return false;
        }
        if (!f.isBoolean()) {
            throw new ConfigException(source.source() + ": " + where + "." + name + " must be true or false, found " + f);
        }
        return f.booleanValue();
    }

    /** The special tokens' contents, first occurrence wins (transformers' all_special_tokens_extended). */
    List<AddedToken> distinctSpecialTokens() {
        List<AddedToken> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (AddedToken t : specialTokens.values()) {
            if (seen.add(t.content())) {
                out.add(t);
            }
        }
        return out;
    }
}
