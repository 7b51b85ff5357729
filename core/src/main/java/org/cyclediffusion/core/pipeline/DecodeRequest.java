package org.cyclediffusion.core.pipeline;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.cyclediffusion.core.spi.ProgressListener;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The target half of an edit: the prompts a {@link LatentCode} is decoded under. Draws nothing: all
 * the randomness is in the code.
 *
 * @param prompts       target prompts, one per code row or one for all
 * @param promptEmbeds  precomputed target prompt embeddings [rows, 77, D], instead of {@code prompts}
 * @param guidanceScale classifier-free guidance of the target chain; &gt; 1 turns it on (7.5)
 * @param clipSkip      CLIP layers to skip (null: none)
 * @param outputType    pil, np or latent (pil)
 * @param callbackSteps call the listener every k steps (1)
 * @param listener      progress listener, may cancel; null for none
 * @param observer      receives every intermediate tensor; null for none
 */
public record DecodeRequest(
        List<String> prompts,
        FloatTensor promptEmbeds,
        double guidanceScale,
        Integer clipSkip,
        OutputType outputType,
        int callbackSteps,
        ProgressListener listener,
        EditObserver observer) {

    public DecodeRequest {
        prompts = prompts == null ? List.of() : List.copyOf(prompts);
        outputType = outputType == null ? OutputType.PIL : outputType;
        observer = observer == null ? EditObserver.NONE : observer;
    }

    /** Classifier-free guidance on, as diffusers decides it. */
    public boolean guided() {
        return guidanceScale > 1.0;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder().prompts(prompts).promptEmbeds(promptEmbeds).guidanceScale(guidanceScale).clipSkip(clipSkip)
                .outputType(outputType).callbackSteps(callbackSteps).listener(listener);
        return b.observer(observer);
    }

    /** Builder with diffusers' defaults. */
    public static final class Builder {
        private final List<String> prompts = new ArrayList<>();
        private FloatTensor promptEmbeds;
        private double guidanceScale = EditRequest.DEFAULT_GUIDANCE_SCALE;
        private Integer clipSkip;
        private OutputType outputType = OutputType.PIL;
        private int callbackSteps = 1;
        private ProgressListener listener;
        private EditObserver observer;

        public Builder prompt(String... p) {
            return prompts(List.of(p));
        }

        public Builder prompts(List<String> p) {
            prompts.clear();
            prompts.addAll(p);
            return this;
        }

        public Builder promptEmbeds(FloatTensor v) {
            promptEmbeds = v;
            return this;
        }

        public Builder guidanceScale(double v) {
            guidanceScale = v;
            return this;
        }

        public Builder clipSkip(Integer v) {
            clipSkip = v;
            return this;
        }

        public Builder outputType(OutputType v) {
            outputType = Objects.requireNonNull(v);
            return this;
        }

        public Builder callbackSteps(int v) {
            callbackSteps = v;
            return this;
        }

        public Builder listener(ProgressListener v) {
            listener = v;
            return this;
        }

        public Builder observer(EditObserver v) {
            observer = v;
            return this;
        }

        public DecodeRequest build() {
            return new DecodeRequest(prompts, promptEmbeds, guidanceScale, clipSkip, outputType, callbackSteps, listener, observer);
        }
    }
}
