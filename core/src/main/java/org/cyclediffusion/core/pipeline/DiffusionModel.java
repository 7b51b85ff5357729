package org.cyclediffusion.core.pipeline;

import java.util.List;
import java.util.Objects;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;

/**
 * What one chain of CycleDiffusion runs on: a model's networks, its tokenizer and its sampler
 * definition. In a one-model edit both chains run on the same one; in unpaired translation the
 * source chain runs on model A and the target chain on model B.
 *
 * @param name      the model as the user named it (folder, file or hub id), for provenance
 * @param models    the networks (not owned by this record)
 * @param tokenizer the model's CLIP tokenizer
 * @param scheduler the sampler definition each chain gets a fresh state from
 */
public record DiffusionModel(String name, Models models, ClipTokenizer tokenizer, SchedulerFactory scheduler) {
    public DiffusionModel {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(models, "models");
        Objects.requireNonNull(tokenizer, "tokenizer");
        Objects.requireNonNull(scheduler, "scheduler");
    }

    /** diffusers' {@code encode_prompt} without the copies: ids through this model's text encoder. */
    FloatTensor encodePrompts(List<String> prompts, int clipSkip) {
        return models.textEncoder().encode(tokenizer.encode(prompts), clipSkip);
    }
}
