package org.cyclediffusion.core.pipeline;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The prompts one call needs, encoded together: one text-encoder pass per model and clip skip
 * over the distinct prompts, instead of diffusers' one pass per prompt list (source prompts,
 * target prompts, and the negative "" of each chain). A text encoder treats each row on its own
 * (per-row attention, norms and GEMM rows), so a row's embedding does not depend on its
 * neighbours; on LibTorch the batched rows are bitwise the separate ones. It is fewer, larger
 * GEMMs: full-size SD 1.5's three rows of an edit took 443 ms one by one and 310 ms together on
 * one thread.
 *
 * <p>Usage: {@link #add} every list first, then {@link #get} each one back; the first
 * {@code get} encodes everything added.
 */
final class PromptBatch {
    /** Prompts by model (identity: a pipeline's source and target may be one model) and clip skip, in order of first use. */
    private final Map<DiffusionModel, Map<Integer, Group>> groups = new IdentityHashMap<>();

    private static final class Group {
        final Map<String, Integer> rowOf = new LinkedHashMap<>();
        FloatTensor encoded;
    }

    /** Asks for {@code prompts} through {@code model}'s text encoder at {@code clipSkip}. */
    PromptBatch add(DiffusionModel model, int clipSkip, List<String> prompts) {
        Group g = groups.computeIfAbsent(model, m -> new LinkedHashMap<>()).computeIfAbsent(clipSkip, k -> new Group());
        if (g.encoded != null) {
            throw new IllegalStateException("prompts added after encoding");
        }
        for (String p : prompts) {
            g.rowOf.putIfAbsent(p, g.rowOf.size());
        }
        return this;
    }

    /** The embeddings of {@code prompts} (added before), one row each, as {@link DiffusionModel#encodePrompts} gives them. */
    FloatTensor get(DiffusionModel model, int clipSkip, List<String> prompts) {
        Map<Integer, Group> byClipSkip = groups.get(model);
        Group g = byClipSkip == null ? null : byClipSkip.get(clipSkip);
        if (g == null || !g.rowOf.keySet().containsAll(prompts)) {
            throw new IllegalStateException("prompts not added before encoding: " + prompts);
        }
        encodeAll();
        List<FloatTensor> rows = new ArrayList<>(prompts.size());
        for (String p : prompts) {
            int r = g.rowOf.get(p);
            rows.add(g.encoded.rows(r, r + 1));
        }
        return rows.size() == 1 ? rows.get(0) : FloatTensor.cat(rows);
    }

    private void encodeAll() {
        groups.forEach((model, byClipSkip) -> byClipSkip.forEach((clipSkip, g) -> {
            if (g.encoded == null) {
                g.encoded = model.encodePrompts(List.copyOf(g.rowOf.keySet()), clipSkip);
            }
        }));
    }
}
