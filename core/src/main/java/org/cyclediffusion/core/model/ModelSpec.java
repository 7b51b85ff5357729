package org.cyclediffusion.core.model;

import java.nio.file.Path;
import org.cyclediffusion.core.spi.PredictionType;

/**
 * Where a model comes from, as the user says it: {@code model} is a diffusers folder or ONNX
 * export, a single-file checkpoint ({@code .safetensors}), or a hub id {@code ORG/NAME[@REV]}.
 *
 * @param revision       hub branch, tag or commit (null: {@code main}, or the id's {@code @REV})
 * @param offline        never touch the network (also {@code HF_HUB_OFFLINE=1})
 * @param config         for a single file: the diffusers folder whose configs, tokenizer, scheduler and checker to use
 * @param variant        weights variant ({@code fp16}: {@code *.fp16.safetensors}), or null
 * @param ema            for a single file: its EMA UNet weights
 * @param predictionType overrides the scheduler's {@code prediction_type}, or null
 */
public record ModelSpec(String model, String revision, boolean offline, Path config, String variant, boolean ema,
        PredictionType predictionType) {
    public static ModelSpec of(String model) {
        return new ModelSpec(model, null, false, null, null, false, null);
    }
}
