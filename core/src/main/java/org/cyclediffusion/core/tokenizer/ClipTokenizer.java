package org.cyclediffusion.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;

/**
 * The CLIP byte-level BPE tokenizer, producing the ids transformers 4.35's slow
 * {@code CLIPTokenizer} produces without {@code ftfy} installed, called the way diffusers'
 * pipelines call it: {@code tokenizer(prompt, padding="max_length",
 * max_length=tokenizer.model_max_length, truncation=True)}.
 *
 * <p>A prompt goes through, in order:
 * <ol>
 *   <li>the added-token split ({@link AddedTokens}): special tokens written literally in the
 *       prompt, and SD 2.x's pad token {@code "!"}, become their ids directly;</li>
 *   <li>for each piece in between, the BasicTokenizer clean-up ({@link BasicTextNormalizer}:
 *       control characters out, CJK ideographs spaced, NFC, whitespace collapsed, lower case);</li>
 *   <li>the CLIP pattern ({@link ClipPreTokenizer}) cuts the words: letter runs, single digits,
 *       punctuation runs, English contractions;</li>
 *   <li>each word's UTF-8 bytes, written in the byte-level alphabet ({@link ByteLevelAlphabet}),
 *       are merged by BPE ({@link BytePairEncoder}), the last symbol marked {@code </w>};</li>
 *   <li>symbols become ids through {@code vocab.json}; then bos + ids + eos, cut to keep the first
 *       {@code maxLength - 2} ids when too long (eos stays last), padded with the pad id.</li>
 * </ol>
 *
 * <p>Immutable and thread-safe (the BPE cache is concurrent).
 */
public final class ClipTokenizer {
    static final String VOCAB_FILE = "vocab.json";
    static final String MERGES_FILE = "merges.txt";
    static final String ADDED_TOKENS_FILE = "added_tokens.json";

    private final Path dir;
    private final Map<String, Integer> vocab;
    private final String[] vocabDecoder;
    private final BytePairEncoder bpe;
    private final AddedTokens added;
    private final Set<Integer> specialIds;
    private final Set<String> specialContents;
    private final Integer unkVocabId;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int maxLength;
    private final boolean cleanUpTokenizationSpaces;

    private ClipTokenizer(Path dir, Map<String, Integer> vocab, BytePairEncoder bpe, AddedTokens added,
            TokenizerConfig config) {
        this.dir = dir;
        this.vocab = vocab;
        this.bpe = bpe;
        this.added = added;
        this.maxLength = config.maxLength();
        this.cleanUpTokenizationSpaces = config.cleanUpTokenizationSpaces();
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.vocabDecoder = new String[maxId + 1];
        vocab.forEach((token, id) -> vocabDecoder[id] = token);
        this.specialContents = new HashSet<>();
        this.specialIds = new HashSet<>();
        for (AddedToken t : config.distinctSpecialTokens()) {
            specialContents.add(t.content());
            specialIds.add(added.id(t.content()));
        }
        // An added token flagged special joins the additional special tokens (transformers' _add_tokens).
        added.byId().forEach((id, t) -> {
            if (t.special()) {
                specialContents.add(t.content());
                specialIds.add(id);
            }
        });
        this.bosId = added.id(config.specialTokens().get("bos_token").content());
        this.eosId = added.id(config.specialTokens().get("eos_token").content());
        this.padId = added.id(config.specialTokens().get("pad_token").content());
        AddedToken unk = config.specialTokens().get("unk_token");
        this.unkVocabId = unk == null ? null : vocab.get(unk.content());
    }

    /**
     * Loads a tokenizer folder as diffusers saves it ({@code tokenizer/} of a Stable Diffusion
     * model): {@code vocab.json}, {@code merges.txt} and {@code tokenizer_config.json} are required,
     * {@code special_tokens_map.json} and {@code added_tokens.json} are read when present.
     *
     * @throws ConfigException naming the file, when one is missing or malformed
     */
    public static ClipTokenizer load(Path tokenizerDir) {
        Path dir = tokenizerDir.toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
            throw new ConfigException(tokenizerDir + ": tokenizer folder not found (expected a directory with "
                    + VOCAB_FILE + ", " + MERGES_FILE + ", " + TokenizerConfig.CONFIG_FILE + " and "
                    + TokenizerConfig.SPECIAL_TOKENS_FILE + ")");
        }
        Map<String, Integer> vocab = VocabularyFiles.readVocab(dir.resolve(VOCAB_FILE));
        BytePairEncoder bpe = new BytePairEncoder(VocabularyFiles.readMerges(dir.resolve(MERGES_FILE)));
        TokenizerConfig config = TokenizerConfig.read(dir);
        AddedTokens added = buildAddedTokens(dir, vocab, config);
        return new ClipTokenizer(dir, vocab, bpe, added, config);
    }

    /**
     * transformers' {@code PreTrainedTokenizer.__init__}: tokens of {@code added_tokens_decoder}
     * first, then the legacy {@code added_tokens.json}, then every special token not yet there,
     * with its id in {@code vocab.json} or, when it has none, the next free id
     * ({@code len(get_vocab())}, counting up).
     */
    private static AddedTokens buildAddedTokens(Path dir, Map<String, Integer> vocab, TokenizerConfig config) {
        Map<Integer, AddedToken> decoder = new LinkedHashMap<>(config.addedTokensDecoder());
        Set<String> specialContents = new HashSet<>();
        config.distinctSpecialTokens().forEach(t -> specialContents.add(t.content()));
        readLegacyAddedTokens(dir.resolve(ADDED_TOKENS_FILE)).forEach((content, id) ->
                decoder.putIfAbsent(id, AddedToken.plain(content, specialContents.contains(content))));

        Set<String> contents = new HashSet<>();
        decoder.values().forEach(t -> contents.add(t.content()));
        Set<String> union = new HashSet<>(vocab.keySet());
        union.addAll(contents);
        int nextId = union.size();
        for (AddedToken t : config.distinctSpecialTokens()) {
            if (contents.add(t.content())) {
                Integer id = vocab.get(t.content());
                decoder.put(id != null ? id : nextId++, t);
            }
        }
        return new AddedTokens(decoder);
    }

    private static Map<String, Integer> readLegacyAddedTokens(Path file) {
        Map<String, Integer> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) {
            return out;
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new ConfigException(file + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException(file + ": expected a JSON object mapping each added token to its id");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToInt() || e.getValue().intValue() < 0) {
                throw new ConfigException(file + ": the id of " + VocabularyFiles.quote(e.getKey())
                        + " must be a non-negative integer, found " + e.getValue());
            }
            if (!e.getKey().isEmpty()) {
                out.put(e.getKey(), e.getValue().intValue());
            }
        }
        return out;
    }

    /** Ids of one prompt, padded or truncated to exactly {@link #maxLength()}. */
    public TokenizedPrompt tokenize(String prompt) {
        List<Integer> ids = contentIds(prompt);
        int untruncated = ids.size() + 2;
        boolean truncated = untruncated > maxLength;
        int keep = truncated ? maxLength - 2 : ids.size();
        long[] out = new long[maxLength];
        out[0] = bosId;
        for (int i = 0; i < keep; i++) {
            out[1 + i] = ids.get(i);
        }
        out[1 + keep] = eosId;
        for (int i = keep + 2; i < maxLength; i++) {
            out[i] = padId;
        }
        return new TokenizedPrompt(out, untruncated, truncated);
    }

    /** Ids of several prompts, one row each, as the text encoder takes them ({@code [B][maxLength]}). */
    public long[][] encode(List<String> prompts) {
        long[][] out = new long[prompts.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = tokenize(prompts.get(i)).ids();
        }
        return out;
    }

    /**
     * The token strings of a text without bos/eos ({@code tokenizer.tokenize(text)}): BPE symbols
     * in the byte-level alphabet, word ends marked {@code </w>}, added tokens as written.
     */
    public List<String> tokens(String text) {
        List<String> out = new ArrayList<>();
        for (AddedTokens.Piece piece : added.split(Objects.requireNonNull(text, "text"))) {
            if (piece.isAdded()) {
                out.add(piece.text());
                continue;
            }
            for (String word : ClipPreTokenizer.words(BasicTextNormalizer.normalize(piece.text()))) {
                for (String symbol : bpe.encode(ByteLevelAlphabet.encode(word))) {
                    out.add(symbol);
                }
            }
        }
        return out;
    }

    private List<Integer> contentIds(String prompt) {
        List<String> tokens = tokens(Objects.requireNonNull(prompt, "prompt"));
        List<Integer> ids = new ArrayList<>(tokens.size());
        for (String t : tokens) {
            ids.add(idOf(t));
        }
        return ids;
    }

    /** {@code convert_tokens_to_ids}: added tokens first, then the vocabulary, then unk. */
    private int idOf(String token) {
        Integer id = added.id(token);
        if (id == null) {
            id = vocab.get(token);
        }
        if (id == null) {
            id = unkVocabId;
        }
        if (id == null) {
            throw new CycleDiffusionException(dir.resolve(VOCAB_FILE) + ": token " + VocabularyFiles.quote(token)
                    + " is not in the vocabulary and there is no unk_token in it to stand for it");
        }
        return id;
    }

    /**
     * The text of some ids, as {@code tokenizer.decode(ids)} (special tokens kept; a space before
     * punctuation removed when {@code clean_up_tokenization_spaces}, the default, is on).
     */
    public String decode(long[] ids) {
        return decode(ids, false);
    }

    /** {@code tokenizer.decode(ids, skip_special_tokens=skipSpecialTokens)}. */
    public String decode(long[] ids, boolean skipSpecialTokens) {
        List<String> subTexts = new ArrayList<>();
        List<String> current = new ArrayList<>();
        for (long id : ids) {
            if (skipSpecialTokens && id >= 0 && id <= Integer.MAX_VALUE && specialIds.contains((int) id)) {
                continue;
            }
            AddedToken addedToken = id >= 0 && id <= Integer.MAX_VALUE ? added.token((int) id) : null;
            if (addedToken != null && !addedToken.special() && !specialContents.contains(addedToken.content())) {
                // Added non-special tokens (textual inversion) are kept as written, set apart by spaces.
                if (!current.isEmpty()) {
                    String s = tokensToString(current);
                    if (!s.isEmpty()) {
                        subTexts.add(s);
                    }
                    current.clear();
                }
                subTexts.add(addedToken.content());
                continue;
            }
            current.add(addedToken != null ? addedToken.content() : vocabToken(id));
        }
        if (!current.isEmpty()) {
            subTexts.add(tokensToString(current));
        }
        String text = String.join(" ", subTexts);
        return cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
    }

    /**
     * The part of a prompt the truncation removed, as diffusers logs it ("The following part of
     * your input was truncated because CLIP can only handle sequences up to 77 tokens: ..."), or
     * the empty string when nothing was removed.
     */
    public String truncatedText(String prompt) {
        List<Integer> ids = contentIds(prompt);
        if (ids.size() + 2 <= maxLength) {
            return "";
        }
        return decode(ids.subList(maxLength - 2, ids.size()).stream().mapToLong(Integer::longValue).toArray());
    }

    private String vocabToken(long id) {
        if (id < 0 || id >= vocabDecoder.length || vocabDecoder[(int) id] == null) {
            throw new CycleDiffusionException("token id " + id + " is neither in " + dir.resolve(VOCAB_FILE)
                    + " (ids 0.." + (vocabDecoder.length - 1) + ") nor an added token");
        }
        return vocabDecoder[(int) id];
    }

    /** {@code CLIPTokenizer.convert_tokens_to_string}. */
    private static String tokensToString(List<String> tokens) {
        byte[] bytes = ByteLevelAlphabet.decode(String.join("", tokens));
        String text = new String(bytes, StandardCharsets.UTF_8).replace(BytePairEncoder.END_OF_WORD, " ");
        return PythonUnicode.strip(text);
    }

    /** {@code PreTrainedTokenizerBase.clean_up_tokenization}. */
    private static String cleanUpTokenization(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    /** {@code model_max_length}: every id row has this length (77 for Stable Diffusion). */
    public int maxLength() {
        return maxLength;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    /** 49407 ({@code <|endoftext|>}) for SD 1.x, 0 ({@code "!"}) for SD 2.x. */
    public int padId() {
        return padId;
    }

    /** Number of entries of {@code vocab.json} (49408 for CLIP). */
    public int vocabSize() {
        return vocab.size();
    }

    /** The folder this tokenizer was loaded from. */
    public Path directory() {
        return dir;
    }

    @Override
    public String toString() {
        return "ClipTokenizer[" + dir + ", vocab " + vocab.size() + ", merges " + bpe.mergeCount() + ", maxLength "
                + maxLength + ", bos " + bosId + ", eos " + eosId + ", pad " + padId + "]";
    }
}
