package org.cyclediffusion.core.tokenizer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.config.ConfigException;

/** Readers for the two BPE files of a CLIP tokenizer folder, {@code vocab.json} and {@code merges.txt}. */
final class VocabularyFiles {
    /**
     * transformers reads {@code merges.txt} as {@code lines[1 : 49152 - 256 - 2 + 1]}: the header
     * is skipped and at most 48894 merges are used (CLIP's 49408-token vocabulary = 256 bytes,
     * 256 bytes with {@code </w>}, 48894 merges, 2 special tokens).
     */
    static final int MAX_MERGES = 49152 - 256 - 2;

    /**
     * Field-name canonicalization and interning are off: they pay off for field names that repeat,
     * but every one of vocab.json's 49408 keys is distinct, and interning them costs ~10x the parse.
     */
    private static final JsonFactory JSON = JsonFactory.builder()
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .build();
    private static final System.Logger LOG = System.getLogger(VocabularyFiles.class.getName());

    private VocabularyFiles() {
    }

    /**
     * {@code vocab.json}: one JSON object, token to id (CLIP's is 961 KB on one line). Read with
     * Jackson's streaming parser, never building a tree. As with Python's {@code json.load}, a
     * repeated key keeps its last id.
     */
    static Map<String, Integer> readVocab(Path file) {
        requireFile(file);
        try (JsonParser p = JSON.createParser(Files.readAllBytes(file))) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new ConfigException(file + ": expected a JSON object mapping each token to its id, found "
                        + describe(p.currentToken()));
            }
            Map<String, Integer> vocab = new HashMap<>(1 << 17);
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String token = p.currentName();
                JsonToken value = p.nextToken();
                if (value != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
                        || p.getLongValue() < 0 || p.getLongValue() > Integer.MAX_VALUE) {
                    throw new ConfigException(file + ": the id of token " + quote(token)
                            + " must be a non-negative integer, found " + describe(value) + " " + p.getText());
                }
                vocab.put(token, p.getIntValue());
            }
            if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
                throw new ConfigException(file + ": unexpected " + describe(p.currentToken())
                        + " at line " + p.currentLocation().getLineNr() + " (expected one JSON object)");
            }
            if (vocab.isEmpty()) {
                throw new ConfigException(file + ": the vocabulary is empty");
            }
            return vocab;
        } catch (JsonProcessingException e) {
            throw new ConfigException(file + ": not valid JSON (" + e.getOriginalMessage() + " at line "
                    + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")", e);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot be read (" + e + ")", e);
        }
    }

    /**
     * {@code merges.txt}: a header line ({@code #version: 0.2}), then one merge per line, two
     * symbols separated by a space, most frequent first. Returns the rank of each merge keyed by
     * {@code "first second"}. Line ends are Python's universal newlines and the text is stripped
     * first, as {@code read().strip().split("\n")}; a repeated merge keeps its last rank, as
     * {@code dict(zip(merges, range(n)))}.
     */
    static Map<String, Integer> readMerges(Path file) {
        requireFile(file);
        String text;
        try {
            text = Files.readString(file);
        } catch (CharacterCodingException e) {
            throw new ConfigException(file + ": not valid UTF-8", e);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot be read (" + e + ")", e);
        }
        String[] lines = PythonUnicode.strip(text.replace("\r\n", "\n").replace('\r', '\n')).split("\n", -1);
        if (!lines[0].startsWith("#version")) {
            LOG.log(System.Logger.Level.WARNING, file + ": first line " + quote(lines[0])
                    + " is not a '#version' header; it is skipped all the same, as transformers does");
        }
        int count = Math.min(lines.length - 1, MAX_MERGES);
        if (lines.length - 1 > MAX_MERGES) {
            LOG.log(System.Logger.Level.WARNING, file + ": " + (lines.length - 1) + " merges; CLIP uses only the first "
                    + MAX_MERGES + ", as transformers does");
        }
        if (count <= 0) {
            throw new ConfigException(file + ": no merges after the header line");
        }
        Map<String, Integer> ranks = new HashMap<>(count * 2);
        for (int k = 0; k < count; k++) {
            String line = lines[k + 1];
            List<String> symbols = PythonUnicode.split(line);
            if (symbols.size() != 2) {
                throw new ConfigException(file + ": line " + (k + 2) + " must hold two symbols separated by a space, found "
                        + quote(line));
            }
            ranks.put(symbols.get(0) + " " + symbols.get(1), k);
        }
        return ranks;
    }

    static void requireFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(file + ": file not found (a CLIP tokenizer folder holds vocab.json, merges.txt, "
                    + "tokenizer_config.json and special_tokens_map.json)");
        }
    }

    static String quote(String s) {
        String shown = s.length() > 60 ? s.substring(0, 60) + "..." : s;
        return "'" + shown + "'";
    }

    private static String describe(JsonToken t) {
        if (t == null) {
            return "end of file";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "a list";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "an integer";
            case VALUE_NUMBER_FLOAT -> "a number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> t.toString();
        };
    }
}
