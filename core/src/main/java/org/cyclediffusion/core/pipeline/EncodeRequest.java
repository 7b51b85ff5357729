package org.cyclediffusion.core.pipeline;

import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.spi.ProgressListener;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The source half of an edit: what the DPM-Encoder needs to turn images into their latent code
 * (Wu and De la Torre 2022, §3). Every random draw of an edit happens here, in diffusers' order.
 *
 * @param sourcePrompts       prompts describing the input images, one per row or one for all
 * @param images              input images; or {@code imageTensor}
 * @param imageTensor         pixels [B,3,H,W] in [-1, 1], or latents [B,C,h,w] used as they are
 * @param strength            fraction of the schedule to run, in [0, 1] (0.8)
 * @param numInferenceSteps   steps of the full schedule (50)
 * @param sourceGuidanceScale classifier-free guidance of the source chain (1)
 * @param sourceGuided        whether the source chain runs guided; null: when {@code sourceGuidanceScale > 1}.
 *                            diffusers' edit guides it whenever the target chain is guided, even at
 *                            scale 1 (ε̂ = u + 1·(c − u), which rounds differently from c); an edit's
 *                            {@link EditRequest#encodeRequest()} sets it as
 *                            {@link EditRequest#sourceChainGuided()} says
 * @param numImagesPerPrompt  copies per row (1)
 * @param eta                 the sampler's stochasticity where it has one (DDIM; 0.1)
 * @param seed                seed of the torch-compatible generator; ignored when {@code noise} is set
 * @param noise               an explicit noise source (its state advances)
 * @param clipSkip            CLIP layers to skip (null: none)
 * @param callbackSteps       call the listener every k steps (1)
 * @param listener            progress listener (sees the source latents), may cancel; null for none
 * @param observer            receives every intermediate tensor; null for none
 */
public record EncodeRequest(
        List<String> sourcePrompts,
        List<RgbImage> images,
        FloatTensor imageTensor,
        double strength,
        int numInferenceSteps,
        double sourceGuidanceScale,
        Boolean sourceGuided,
        int numImagesPerPrompt,
        double eta,
        long seed,
        NoiseSource noise,
        Integer clipSkip,
        int callbackSteps,
        ProgressListener listener,
        EditObserver observer) {

    public EncodeRequest {
        sourcePrompts = sourcePrompts == null ? List.of() : List.copyOf(sourcePrompts);
        images = images == null ? List.of() : List.copyOf(images);
        observer = observer == null ? EditObserver.NONE : observer;
    }

    /** Whether the source chain runs with classifier-free guidance. */
    public boolean guided() {
        return sourceGuided != null ? sourceGuided : sourceGuidanceScale > 1.0;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().sourcePrompts(sourcePrompts).images(images).imageTensor(imageTensor).strength(strength)
                .numInferenceSteps(numInferenceSteps).sourceGuidanceScale(sourceGuidanceScale).sourceGuided(sourceGuided)
                .numImagesPerPrompt(numImagesPerPrompt).eta(eta).seed(seed).noise(noise).clipSkip(clipSkip).callbackSteps(callbackSteps)
                .listener(listener).observer(observer);
    }

    /** Builder with diffusers' defaults; list setters replace what was set before. */
    public static final class Builder {
        private final List<String> sourcePrompts = new ArrayList<>();
        private final List<RgbImage> images = new ArrayList<>();
        private FloatTensor imageTensor;
        private double strength = EditRequest.DEFAULT_STRENGTH;
        private int numInferenceSteps = EditRequest.DEFAULT_STEPS;
        private double sourceGuidanceScale = EditRequest.DEFAULT_SOURCE_GUIDANCE_SCALE;
        private Boolean sourceGuided;
        private int numImagesPerPrompt = 1;
        private double eta = EditRequest.DEFAULT_ETA;
        private long seed;
        private NoiseSource noise;
        private Integer clipSkip;
        private int callbackSteps = 1;
        private ProgressListener listener;
        private EditObserver observer;

        public Builder sourcePrompt(String... p) {
            return sourcePrompts(List.of(p));
        }

        public Builder sourcePrompts(List<String> p) {
            sourcePrompts.clear();
            sourcePrompts.addAll(p);
            return this;
        }

        public Builder image(RgbImage... i) {
            return images(List.of(i));
        }

        public Builder images(List<RgbImage> i) {
            images.clear();
            images.addAll(i);
            return this;
        }

        public Builder imageTensor(FloatTensor t) {
            imageTensor = t;
            return this;
        }

        public Builder strength(double v) {
            strength = v;
            return this;
        }

        public Builder numInferenceSteps(int v) {
            numInferenceSteps = v;
            return this;
        }

        public Builder sourceGuidanceScale(double v) {
            sourceGuidanceScale = v;
            return this;
        }

        public Builder sourceGuided(Boolean v) {
            sourceGuided = v;
            return this;
        }

        public Builder numImagesPerPrompt(int v) {
            numImagesPerPrompt = v;
            return this;
        }

        public Builder eta(double v) {
            eta = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder noise(NoiseSource v) {
            noise = v;
            return this;
        }

        public Builder clipSkip(Integer v) {
            clipSkip = v;
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

        public EncodeRequest build() {
            return new EncodeRequest(sourcePrompts, images, imageTensor, strength, numInferenceSteps, sourceGuidanceScale, sourceGuided,
                    numImagesPerPrompt, eta, seed, noise, clipSkip, callbackSteps, listener, observer);
        }
    }
}
