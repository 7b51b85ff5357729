package org.cyclediffusion.core.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * CLIP's byte-pair encoding of one word ({@code CLIPTokenizer.bpe}): the word's symbols, the last
 * one carrying the end-of-word marker {@code </w>}, are merged pair by pair, always the adjacent
 * pair of lowest rank in {@code merges.txt}, every non-overlapping occurrence of it left to right,
 * until no adjacent pair has a rank or one symbol is left.
 *
 * <p>Results are cached per word, as transformers does; the cache is thread-safe and bounded (it
 * is cleared when it reaches {@link #CACHE_LIMIT} words, which a prompt-driven workload never
 * sees). Like the reference, the cache starts out holding {@code <|startoftext|>} and
 * {@code <|endoftext|>} as themselves, so those two strings, when the pre-tokenizer produces them
 * (a special token written in another case, e.g. {@code <|ENDOFTEXT|>}), become the special token
 * and are not broken into symbols.
 */
final class BytePairEncoder {
    static final String END_OF_WORD = "</w>";
    private static final int CACHE_LIMIT = 100_000;

    /** Rank of each merge, keyed by {@code first + " " + second} (symbols never contain a space). */
    private final Map<String, Integer> ranks;
    private final Map<String, String[]> cache = new ConcurrentHashMap<>();

    BytePairEncoder(Map<String, Integer> ranks) {
        this.ranks = ranks;
        seedCache();
    }

    private void seedCache() {
        cache.put("<|startoftext|>", new String[] {"<|startoftext|>"});
        cache.put("<|endoftext|>", new String[] {"<|endoftext|>"});
    }

    int mergeCount() {
        return ranks.size();
    }

    /** The BPE symbols of a word already written in the byte-level alphabet. */
    String[] encode(String word) {
        String[] cached = cache.get(word);
        if (cached != null) {
            return cached;
        }
        if (word.length() <= 1) {
            // No pair to merge: the reference returns early, without caching.
            return new String[] {word + END_OF_WORD};
        }
        String[] result = merge(word);
        if (cache.size() >= CACHE_LIMIT) {
            cache.clear();
            seedCache();
        }
        cache.put(word, result);
        return result;
    }

    private String[] merge(String word) {
        // Symbols are single chars: every byte-level character is in the BMP.
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length() - 1; i++) {
            symbols.add(String.valueOf(word.charAt(i)));
        }
        symbols.add(word.charAt(word.length() - 1) + END_OF_WORD);

        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer rank = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    first = symbols.get(i);
                    second = symbols.get(i + 1);
                }
            }
            if (first == null) {
                break;
            }
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size();) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(first) && symbols.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i += 2;
                } else {
                    merged.add(symbols.get(i));
                    i++;
                }
            }
            symbols = merged;
        }
        return symbols.toArray(new String[0]);
    }
}
