package org.cyclediffusion.core.batch;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.spi.ProgressListener;

/**
 * Runs manifest rows on one loaded pipeline, for every runner of batches (the CLI's {@code batch},
 * the Spark job), so that a row gives the same images and the same PNG metadata wherever it runs.
 * Writing the files is the caller's (a local folder, a Hadoop file system).
 *
 * <p>The seam for sharing the source half: rows with the same image, source prompt, strength,
 * steps, eta, source guidance, clip skip and seed walk the same source chain and recover the same
 * latent code (DPM-Encoder); only the target chain differs. When the pipeline offers an
 * encode/decode API (latent code out, target chain in), {@link #edit} is the one place to look a
 * row's source key up in a cache of latent codes and decode only. Until then every row runs whole.
 */
public final class BatchEditor {
    private final CycleDiffusionPipeline pipeline;
    private final String software;
    private final String model;
    private final boolean safetyChecker;

    /**
     * @param software      tool name and version for the metadata, e.g. {@code cyclediffusion 0.1.0}
     * @param model         the model as the user named it
     * @param safetyChecker whether the pipeline was loaded with its checker on
     */
    public BatchEditor(CycleDiffusionPipeline pipeline, String software, String model, boolean safetyChecker) {
        this.pipeline = pipeline;
        this.software = software;
        this.model = model;
        this.safetyChecker = safetyChecker;
    }

    /** A finished edit of one row, before its files are written. */
    public record Edited(BatchItem item, long seed, EditResult result, EditProvenance provenance) {
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

    /** Edits one row on {@code input} with {@code seed}; the listener (may be null) sees every step and may cancel. */
    public Edited edit(BatchItem item, RgbImage input, long seed, ProgressListener listener) {
        EditRequest request = item.request(seed).image(input).listener(listener).build();
        EditResult result = pipeline.edit(request);
        return new Edited(item, seed, result, provenance(item, request, seed));
    }

    /** The parameters of a row as its PNGs would carry them; for a failed row's result too. */
    public ObjectNode parameters(BatchItem item, long seed) {
        return provenance(item, item.request(seed).build(), seed).parameters();
    }

    private EditProvenance provenance(BatchItem item, EditRequest request, long seed) {
        return new EditProvenance(software, model, pipeline.models().description(), List.of(item.image()), request, seed, safetyChecker);
    }
}
