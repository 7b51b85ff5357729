package org.cyclediffusion.core.tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The added-token table of a slow transformers tokenizer ({@code _added_tokens_encoder} /
 * {@code _added_tokens_decoder}) and the first step of {@code PreTrainedTokenizer.tokenize}:
 * the text is cut at every occurrence of an added token (leftmost match first, the longest token
 * when several start at the same place, as {@code Trie.split}); the token's {@code lstrip},
 * {@code rstrip} and {@code single_word} flags then adjust its neighbours; the pieces in between
 * go on to clean-up and BPE, and empty pieces are dropped.
 *
 * <p>Every special token is in this table, even one already in the vocabulary: that is why SD 2.x's
 * pad token {@code "!"} is cut out of {@code "Hello, world!"} and becomes id 0 instead of the BPE
 * token {@code "!</w>"} (256).
 */
final class AddedTokens {
    /** One piece of the split text: an added token (with its id) or plain text. */
    record Piece(String text, int addedId) {
        boolean isAdded() {
            return addedId >= 0;
        }
    }

    private final Map<String, Integer> encoder;
    private final Map<Integer, AddedToken> decoder;

    /** @param decoder id to token, in insertion order; contents must be distinct and non-empty */
    AddedTokens(Map<Integer, AddedToken> decoder) {
        this.decoder = Collections.unmodifiableMap(new LinkedHashMap<>(decoder));
        Map<String, Integer> enc = new LinkedHashMap<>();
        decoder.forEach((id, token) -> enc.put(token.content(), id));
        this.encoder = Collections.unmodifiableMap(enc);
    }

    Integer id(String content) {
        return encoder.get(content);
    }

    AddedToken token(int id) {
        return decoder.get(id);
    }

    Map<Integer, AddedToken> byId() {
        return decoder;
    }

    List<Piece> split(String text) {
        // Trie.split: cut at each match; zero-width pieces (text start, two matches in a row,
        // text end) are not kept, so two adjacent added tokens are each other's neighbours.
        List<String> parts = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < text.length()) {
            String match = longestMatchAt(text, i);
            if (match == null) {
                i++;
                continue;
            }
            if (i > start) {
                parts.add(text.substring(start, i));
            }
            parts.add(match);
            i += match.length();
            start = i;
        }
        if (start < text.length()) {
            parts.add(text.substring(start));
        }

        // The flags, applied in place left to right with the neighbours as they were before this
        // token's own stripping, exactly as PreTrainedTokenizer.tokenize does.
        for (int k = 0; k < parts.size(); k++) {
            Integer id = encoder.get(parts.get(k));
            if (id == null) {
                continue;
            }
            AddedToken t = decoder.get(id);
            String left = k > 0 ? parts.get(k - 1) : null;
            String right = k + 1 < parts.size() ? parts.get(k + 1) : null;
            if (t.rstrip() && right != null && !right.isEmpty()) {
                parts.set(k + 1, PythonUnicode.stripLeading(right));
            }
            if (t.lstrip() && left != null && !left.isEmpty()) {
                parts.set(k - 1, PythonUnicode.stripTrailing(left));
            }
            // single_word: a token glued to a neighbouring word is no token; it is appended to
            // (or absorbs) that neighbour, and the result is tokenized as ordinary text.
            if (t.singleWord() && left != null && !left.isEmpty() && left.charAt(left.length() - 1) != ' ') {
                parts.set(k - 1, parts.get(k - 1) + parts.get(k));
                parts.set(k, "");
            } else if (t.singleWord() && right != null && !right.isEmpty() && right.charAt(0) != ' ') {
                parts.set(k, parts.get(k) + parts.get(k + 1));
                parts.set(k + 1, "");
            }
        }

        List<Piece> out = new ArrayList<>(parts.size());
        for (String part : parts) {
            if (!part.isEmpty()) {
                Integer id = encoder.get(part);
                out.add(new Piece(part, id == null ? -1 : id));
            }
        }
        return out;
    }

    private String longestMatchAt(String text, int i) {
        String best = null;
        for (String content : encoder.keySet()) {
            if ((best == null || content.length() > best.length()) && text.startsWith(content, i)) {
                best = content;
            }
        }
        return best;
    }
}
