package org.cyclediffusion.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading a tokenizer folder: config variants transformers accepts, and clear errors for broken files. */
class ClipTokenizerLoadTest {
    private static final Path SD1 = Fixtures.model("tiny-sd").resolve("tokenizer");
    private static final Path SD2 = Fixtures.model("tiny-sd2").resolve("tokenizer");

    @TempDir
    Path tmp;

    private Path copyOf(Path source) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("tokenizer"));
        for (String f : new String[] {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
            Files.copy(source.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    private static void write(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    private static ConfigException assertLoadFails(Path dir, String... fragments) {
        ConfigException e = assertThrows(ConfigException.class, () -> ClipTokenizer.load(dir));
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message should contain '" + f + "': " + e.getMessage());
        }
        return e;
    }

    @Test
    void folderThatDoesNotExist() {
        assertLoadFails(tmp.resolve("nope"), "nope", "tokenizer folder not found", "vocab.json");
    }

    @Test
    void eachRequiredFileMissing() throws IOException {
        for (String f : new String[] {"vocab.json", "merges.txt", "tokenizer_config.json"}) {
            Path dir = copyOf(SD1);
            Files.delete(dir.resolve(f));
            assertLoadFails(dir, dir.resolve(f).toString(), "file not found");
            deleteTree(dir);
        }
    }

    @Test
    void malformedVocab() throws IOException {
        Path dir = copyOf(SD1);
        String vocab = Files.readString(dir.resolve("vocab.json"));
        write(dir.resolve("vocab.json"), vocab.substring(0, 5000));
        assertLoadFails(dir, "vocab.json", "not valid JSON", "line 1");

        write(dir.resolve("vocab.json"), "{\"a\": 1, \"b\": \"two\"}");
        assertLoadFails(dir, "vocab.json", "'b'", "non-negative integer");

        write(dir.resolve("vocab.json"), "[1, 2]");
        assertLoadFails(dir, "vocab.json", "expected a JSON object", "a list");

        write(dir.resolve("vocab.json"), "{}");
        assertLoadFails(dir, "vocab.json", "empty");

        write(dir.resolve("vocab.json"), "{\"a\": 1} {\"b\": 2}");
        assertLoadFails(dir, "vocab.json", "expected one JSON object");
    }

    @Test
    void malformedMerges() throws IOException {
        Path dir = copyOf(SD1);
        write(dir.resolve("merges.txt"), "#version: 0.2\ni n\nt h e\n");
        assertLoadFails(dir, "merges.txt", "line 3", "two symbols", "'t h e'");

        write(dir.resolve("merges.txt"), "#version: 0.2\n");
        assertLoadFails(dir, "merges.txt", "no merges");

        Files.write(dir.resolve("merges.txt"), new byte[] {'#', '\n', 'a', ' ', (byte) 0xC3, '\n'});
        assertLoadFails(dir, "merges.txt", "not valid UTF-8");
    }

    @Test
    void mergesWithWindowsLineEndsReadTheSame() throws IOException {
        Path dir = copyOf(SD1);
        String merges = Files.readString(dir.resolve("merges.txt"));
        write(dir.resolve("merges.txt"), merges.replace("\n", "\r\n"));
        String prompt = "a highly detailed oil painting of an old lighthouse";
        assertArrayEquals(ClipTokenizer.load(SD1).tokenize(prompt).ids(), ClipTokenizer.load(dir).tokenize(prompt).ids());
    }

    @Test
    void malformedOrIncompleteTokenizerConfig() throws IOException {
        Path dir = copyOf(SD1);
        Path config = dir.resolve("tokenizer_config.json");
        write(config, "{\"model_max_length\": 77");
        assertLoadFails(dir, "tokenizer_config.json", "not valid JSON");

        write(config, "{\"pad_token\": \"<|endoftext|>\"}");
        assertLoadFails(dir, "tokenizer_config.json", "model_max_length is missing", "77");

        // What transformers writes when it knows no limit (int(1e30)).
        write(config, "{\"model_max_length\": 1000000000000000019884624838656}");
        assertLoadFails(dir, "tokenizer_config.json", "model_max_length", "1000000000000000019884624838656");

        write(config, "{\"model_max_length\": 77, \"padding_side\": \"left\"}");
        assertLoadFails(dir, "tokenizer_config.json", "padding_side", "left");

        write(config, "{\"model_max_length\": 77, \"bos_token\": 5}");
        Files.delete(dir.resolve("special_tokens_map.json"));
        assertLoadFails(dir, "tokenizer_config.json", "bos_token", "must be a string or an object");
    }

    @Test
    void malformedSpecialTokensMap() throws IOException {
        Path dir = copyOf(SD2);
        write(dir.resolve("special_tokens_map.json"), "{\"pad_token\": {\"content\": \"!\",");
        assertLoadFails(dir, "special_tokens_map.json", "not valid JSON");

        write(dir.resolve("special_tokens_map.json"), "{\"pad_token\": null}");
        assertLoadFails(dir, "pad_token is null", "special_tokens_map.json");

        write(dir.resolve("special_tokens_map.json"), "{\"pad_token\": {\"content\": \"!\", \"lstrip\": \"yes\"}}");
        assertLoadFails(dir, "special_tokens_map.json", "pad_token.lstrip", "true or false");
    }

    @Test
    void specialTokensMapIsOptionalAndOverridesTheConfig() throws IOException {
        Path dir = copyOf(SD2);
        Files.delete(dir.resolve("special_tokens_map.json"));
        assertEquals(0, ClipTokenizer.load(dir).padId(), "SD 2.x's tokenizer_config.json alone sets pad '!'");

        // The map wins over tokenizer_config.json, and a plain string works as well as an AddedToken.
        write(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"<|endoftext|>\"}");
        ClipTokenizer tok = ClipTokenizer.load(dir);
        assertEquals(49407, tok.padId());
        assertEquals(49406, tok.bosId(), "bos from tokenizer_config.json");

        // With neither file naming them, CLIPTokenizer's defaults apply.
        write(dir.resolve("special_tokens_map.json"), "{}");
        write(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 77}");
        tok = ClipTokenizer.load(dir);
        assertEquals(49406, tok.bosId());
        assertEquals(49407, tok.eosId());
        assertEquals(49407, tok.padId());
    }

    @Test
    void shorterModelMaxLengthTruncatesToIt() throws IOException {
        Path dir = copyOf(SD1);
        write(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 5}");
        ClipTokenizer tok = ClipTokenizer.load(dir);
        TokenizedPrompt t = tok.tokenize("a photo of a cat");
        assertArrayEquals(new long[] {49406, 320, 1125, 539, 49407}, t.ids());
        assertEquals(7, t.untruncatedLength());
        assertTrue(t.truncated());
        assertEquals("a cat", tok.truncatedText("a photo of a cat"));
    }

    @Test
    void addedTokensJsonForTextualInversion() throws IOException {
        Path dir = copyOf(SD1);
        write(dir.resolve("added_tokens.json"), "{\"<cat-toy>\": 49408}");
        ClipTokenizer tok = ClipTokenizer.load(dir);
        long[] ids = tok.tokenize("a <cat-toy> photo").ids();
        assertArrayEquals(new long[] {49406, 320, 49408, 1125, 49407}, Arrays.copyOf(ids, 5));
        // A non-special added token is decoded on its own, set apart by spaces (transformers' _decode).
        assertEquals("<|startoftext|>a <cat-toy> photo <|endoftext|>", tok.decode(Arrays.copyOf(ids, 5)));
        assertEquals("a <cat-toy> photo", tok.decode(ids, true));
    }

    @Test
    void addedTokensDecoderWithStripAndSingleWordFlags() throws IOException {
        Path dir = copyOf(SD1);
        write(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 77, \"added_tokens_decoder\": {"
                + "\"49408\": {\"content\": \"<x>\", \"single_word\": true, \"special\": false},"
                + "\"49409\": {\"content\": \"<s>\", \"lstrip\": true, \"rstrip\": true, \"special\": true}}}");
        ClipTokenizer tok = ClipTokenizer.load(dir);
        long[] spaced = tok.tokenize("a <x> b").ids();
        assertArrayEquals(new long[] {49406, 320, 49408, 321, 49407}, Arrays.copyOf(spaced, 5));
        // Glued to a word, a single_word token is ordinary text: "a<x>" goes through BPE.
        long[] glued = tok.tokenize("a<x> b").ids();
        assertEquals(tok.tokenize("a< x > b").untruncatedLength(), tok.tokenize("a<x> b").untruncatedLength());
        assertTrue(Arrays.stream(glued).noneMatch(id -> id == 49408), Arrays.toString(glued));
        long[] stripped = tok.tokenize("a <s> b").ids();
        assertArrayEquals(new long[] {49406, 320, 49409, 321, 49407}, Arrays.copyOf(stripped, 5));
        assertEquals("a b", tok.decode(stripped, true), "a special-flagged added token is skipped");
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }
}
