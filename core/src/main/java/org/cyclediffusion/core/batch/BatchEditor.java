package org.cyclediffusion.core.batch;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.LatentCode;
import org.cyclediffusion.core.spi.ProgressListener;

/**
 * Runs manifest rows on loaded pipelines, for every runner of batches (the CLI's {@code batch},
 * the Spark job), so that a row gives the same images and the same PNG metadata wherever it runs.
 * Writing the files is the caller's (a local folder, a Hadoop file system).
 *
 * <p>Shared source half: rows announced with {@link #plan} that have the same {@link SourceKey}
 * walk the same source chain and recover the same latent code; only their target prompts (or
 * target models) differ. The first of them encodes once ({@link CycleDiffusionPipeline#encode}),
 * every one of them decodes that code ({@link CycleDiffusionPipeline#decode}), and the code is
 * dropped after the last. k rows then cost one source half and k target halves instead of k of
 * each. A row whose key is unique runs as one edit (one stacked UNet call per step, as {@code edit}).
 * Not thread-safe: one row at a time, like the pipelines.
 */
public final class BatchEditor {
    private final CycleDiffusionPipeline pipeline;
    private final Function<String, CycleDiffusionPipeline> twoModel;
    private final String software;
    private final String model;
    private final boolean safetyChecker;
    private final boolean shareSource;
    private final Map<SourceKey, Integer> uses = new HashMap<>();
    private final Map<SourceKey, LatentCode> codes = new HashMap<>();

    /**
     * @param pipeline      the batch's model, running both chains of rows without {@code target_model}
     * @param twoModel      the pipeline whose source chain runs on the batch's model and target chain on
     *                      the given {@code target_model} (loaded and cached by the caller); null when
     *                      the runner offers none
     * @param software      tool name and version for the metadata, e.g. {@code cyclediffusion 0.1.0}
     * @param model         the model as the user named it
     * @param safetyChecker whether the pipelines were loaded with their checker on
     * @param shareSource   whether rows of one {@link SourceKey} share one encode
     */
    public BatchEditor(CycleDiffusionPipeline pipeline, Function<String, CycleDiffusionPipeline> twoModel, String software, String model,
            boolean safetyChecker, boolean shareSource) {
        this.pipeline = pipeline;
        this.twoModel = twoModel;
        this.software = software;
        this.model = model;
        this.safetyChecker = safetyChecker;
        this.shareSource = shareSource;
    }

    /**
     * Announces the rows about to run and returns them in the order to run them: the rows of one
     * source key together, at the place of the first (manifest order otherwise), so that at most
     * one latent code is held at a time.
     *
     * @param image the input image of a row as the runner resolves it
     */
    public List<BatchItem> plan(List<BatchItem> items, Function<BatchItem, String> image) {
        Map<Object, List<BatchItem>> groups = new LinkedHashMap<>();
        for (BatchItem item : items) {
            SourceKey key = shareSource ? SourceKey.of(item, image.apply(item)) : null;
            groups.computeIfAbsent(key == null ? new Object() : key, k -> new ArrayList<>()).add(item);
            if (key != null) {
                uses.merge(key, 1, Integer::sum);
            }
        }
        List<BatchItem> ordered = new ArrayList<>(items.size());
        groups.values().forEach(ordered::addAll);
        return ordered;
    }

    /** A finished edit of one row, before its files are written. */
    public record Edited(BatchItem item, long seed, EditResult result, EditProvenance provenance, boolean sharedSource) {
        public List<RgbImage> images() {
            return result.images();
        }

        /** The PNG text of output {@code k}: {@link EditProvenance#pngText}, as {@code edit} writes it. */
        public Map<String, String> pngText(int k) {
            return provenance.pngText(k);
        }

        /** The result line once the images are written under {@link BatchItem#outputName}. */
        public ItemResult succeeded(double elapsedMs) {
            List<String> outputs = new ArrayList<>();
            for (int k = 0; k < images().size(); k++) {
                outputs.add(item.outputName(k));
            }
            List<Boolean> nsfw = result.nsfwContentDetected().map(flags -> {
                List<Boolean> l = new ArrayList<>();
                for (boolean f : flags) {
                    l.add(f);
                }
                return l;
            }).orElse(null);
            return new ItemResult(item.id(), item.line(), ItemResult.OK, outputs, nsfw, seed, elapsedMs,
                    ItemResult.ItemTimings.of(result.timings()), null, provenance.parameters(), Instant.now().toString());
        }
    }

    /**
     * Edits one row with {@code seed}; the listener (may be null) sees every step and may cancel.
     *
     * @param image the row's input image as {@link #plan} was told it
     * @param input reads and decodes it (not called when a shared latent code makes it unnecessary)
     */
    public Edited edit(BatchItem item, String image, Supplier<RgbImage> input, long seed, ProgressListener listener) {
        SourceKey key = shareSource ? SourceKey.of(item, image) : null;
        boolean shared = key != null && (codes.containsKey(key) || uses.getOrDefault(key, 0) > 1);
        try {
            CycleDiffusionPipeline target = item.targetModel() == null ? pipeline : twoModel(item.targetModel());
            EditResult result;
            if (shared) {
                LatentCode code = codes.get(key);
                EditRequest.Builder b = item.request(seed).listener(listener);
                EditRequest request = (code == null ? b.image(input.get()) : b).build();
                if (code == null) {
                    // The source chain runs on the batch's model whatever the target: one code serves every row of the key.
                    code = pipeline.encode(request.encodeRequest());
                    codes.put(key, code);
                }
                result = target.decode(code, request.decodeRequest());
                return new Edited(item, seed, result, provenance(item, request, seed), true);
            }
            EditRequest request = item.request(seed).image(input.get()).listener(listener).build();
            result = target.edit(request);
            return new Edited(item, seed, result, provenance(item, request, seed), false);
        } finally {
            if (key != null && uses.containsKey(key) && uses.merge(key, -1, Integer::sum) <= 0) {
                uses.remove(key);
                codes.remove(key);
            }
        }
    }

    private CycleDiffusionPipeline twoModel(String targetModel) {
        if (twoModel == null) {
            throw new UnsupportedOperationException("target_model " + targetModel + ": this runner has no two-model pipeline");
        }
        return twoModel.apply(targetModel);
    }

    /** The parameters of a row as its PNGs would carry them; for a failed row's result too. */
    public ObjectNode parameters(BatchItem item, long seed) {
        return provenance(item, item.request(seed).build(), seed).parameters();
    }

    /** A two-model row names model B in "target_model" (and "Target model" of the A1111 text). */
    private EditProvenance provenance(BatchItem item, EditRequest request, long seed) {
        return new EditProvenance(software, model, item.targetModel(), pipeline.models().description(), List.of(item.image()), request, seed,
                safetyChecker);
    }
}
