package org.cyclediffusion.core.pipeline;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.spi.ProgressListener;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Every parameter of diffusers' {@code CycleDiffusionPipeline.__call__}, with the same defaults.
 *
 * <p>Batching: {@code prompts}, {@code sourcePrompts} and the images each have one entry per edit
 * row, or a single entry that is used for every row. Row {@code i·n + k} of the output is copy
 * {@code k} of (image i, prompt i, source prompt i) with {@code n = numImagesPerPrompt}; diffusers
 * pairs rows differently under guidance (DESIGN §4) and we deliberately do not.
 *
 * @param prompts            target prompts (what the edited image should show)
 * @param sourcePrompts      prompts describing the input images
 * @param images             input images (8-bit RGB); or use {@code imageTensor}
 * @param imageTensor        alternative to {@code images}: pixels [B,3,H,W] in [-1, 1], or latents
 *                           [B,4,h,w] used as they are (not encoded, not scaled, as diffusers)
 * @param strength           fraction of the schedule to run, in [0, 1] (default 0.8)
 * @param numInferenceSteps  steps of the full schedule (default 50)
 * @param guidanceScale      classifier-free guidance of the target chain; &gt; 1 turns it on (7.5)
 * @param sourceGuidanceScale guidance of the source chain, used only when guidance is on (1)
 * @param sourceGuided       whether the source chain runs its unconditional (∅) rows; null (the
 *                           default): when guidance is on and {@code sourceGuidanceScale ≠ 1}. At
 *                           scale 1 the guided prediction u + 1·(c − u) equals c but for rounding,
 *                           so the ∅ rows are left out and a step runs 3 UNet rows per image instead
 *                           of diffusers' 4 (a quarter less work; outputs differ from diffusers' by
 *                           rounding, measured in the parity tests). True reproduces diffusers'
 *                           arithmetic bit for bit; false drops the ∅ rows at any scale (the source
 *                           chain then runs unguided, ignoring {@code sourceGuidanceScale})
 * @param numImagesPerPrompt copies per row (1)
 * @param eta                DDIM stochasticity; must be &gt; 0 for the DPM-Encoder (0.1)
 * @param seed               seed of the torch-compatible generator; ignored when {@code noise} is set
 * @param noise              an explicit noise source (its state advances)
 * @param promptEmbeds       precomputed target prompt embeddings [rows, 77, D], instead of {@code prompts}
 * @param outputType         pil, np or latent (pil)
 * @param callbackSteps      call the listener every k steps (1)
 * @param listener           progress listener, may cancel; null for none
 * @param clipSkip           CLIP layers to skip (null: none)
 * @param observer           receives every intermediate tensor; null for none
 */
public record EditRequest(
        List<String> prompts,
        List<String> sourcePrompts,
        List<RgbImage> images,
        FloatTensor imageTensor,
        double strength,
        int numInferenceSteps,
        double guidanceScale,
        double sourceGuidanceScale,
        Boolean sourceGuided,
        int numImagesPerPrompt,
        double eta,
        long seed,
        NoiseSource noise,
        FloatTensor promptEmbeds,
        OutputType outputType,
        int callbackSteps,
        ProgressListener listener,
        Integer clipSkip,
        EditObserver observer) {

    public static final double DEFAULT_STRENGTH = 0.8;
    public static final int DEFAULT_STEPS = 50;
    public static final double DEFAULT_GUIDANCE_SCALE = 7.5;
    public static final double DEFAULT_SOURCE_GUIDANCE_SCALE = 1.0;
    public static final double DEFAULT_ETA = 0.1;

    public EditRequest {
        prompts = prompts == null ? List.of() : List.copyOf(prompts);
        sourcePrompts = sourcePrompts == null ? List.of() : List.copyOf(sourcePrompts);
        images = images == null ? List.of() : List.copyOf(images);
        outputType = outputType == null ? OutputType.PIL : outputType;
        observer = observer == null ? EditObserver.NONE : observer;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The source half of this edit; with {@link #decodeRequest()} it is the edit:
     * {@code edit(r)} equals {@code decode(encode(r.encodeRequest()), r.decodeRequest())}. The source
     * chain is guided as {@link #sourceGuided()} says, and a single source prompt is
     * repeated for every target prompt, so the code has one row (and its own noise) per edit row.
     */
    public EncodeRequest encodeRequest() {
        int promptRows = promptEmbeds != null && promptEmbeds.rank() == 3 ? promptEmbeds.dim(0) : prompts.size();
        List<String> sources = sourcePrompts;
        if (sources.size() == 1 && promptRows > 1) {
            sources = java.util.Collections.nCopies(promptRows, sources.get(0));
        }
        return new EncodeRequest(sources, images, imageTensor, strength, numInferenceSteps, sourceGuidanceScale, sourceChainGuided(),
                numImagesPerPrompt, eta, seed, noise, clipSkip, callbackSteps, listener, observer);
    }

    /** Whether the source chain runs guided: {@link #sourceGuided()}, or by default when its ∅ rows change the result. */
    public boolean sourceChainGuided() {
        return sourceGuided != null ? sourceGuided : guidanceScale > 1.0 && sourceGuidanceScale != 1.0;
    }

    /** The target half of this edit (see {@link #encodeRequest()}). */
    public DecodeRequest decodeRequest() {
        return new DecodeRequest(prompts, promptEmbeds, guidanceScale, clipSkip, outputType, callbackSteps, listener, observer);
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.prompts.addAll(prompts);
        b.sourcePrompts.addAll(sourcePrompts);
        b.images.addAll(images);
        b.imageTensor = imageTensor;
        b.strength = strength;
        b.numInferenceSteps = numInferenceSteps;
        b.guidanceScale = guidanceScale;
        b.sourceGuidanceScale = sourceGuidanceScale;
        b.sourceGuided = sourceGuided;
        b.numImagesPerPrompt = numImagesPerPrompt;
        b.eta = eta;
        b.seed = seed;
        b.noise = noise;
        b.promptEmbeds = promptEmbeds;
        b.outputType = outputType;
        b.callbackSteps = callbackSteps;
        b.listener = listener;
        b.clipSkip = clipSkip;
        b.observer = observer;
        return b;
    }

    /** Builder with diffusers' defaults; list setters replace what was set before. */
    public static final class Builder {
        private final List<String> prompts = new ArrayList<>();
        private final List<String> sourcePrompts = new ArrayList<>();
        private final List<RgbImage> images = new ArrayList<>();
        private FloatTensor imageTensor;
        private double strength = DEFAULT_STRENGTH;
        private int numInferenceSteps = DEFAULT_STEPS;
        private double guidanceScale = DEFAULT_GUIDANCE_SCALE;
        private double sourceGuidanceScale = DEFAULT_SOURCE_GUIDANCE_SCALE;
        private Boolean sourceGuided;
        private int numImagesPerPrompt = 1;
        private double eta = DEFAULT_ETA;
        private long seed = 0;
        private NoiseSource noise;
        private FloatTensor promptEmbeds;
        private OutputType outputType = OutputType.PIL;
        private int callbackSteps = 1;
        private ProgressListener listener;
        private Integer clipSkip;
        private EditObserver observer;

        public Builder prompt(String... p) {
            prompts.clear();
            prompts.addAll(List.of(p));
            return this;
        }

        public Builder prompts(List<String> p) {
            prompts.clear();
            prompts.addAll(p);
            return this;
        }

        public Builder sourcePrompt(String... p) {
            sourcePrompts.clear();
            sourcePrompts.addAll(List.of(p));
            return this;
        }

        public Builder sourcePrompts(List<String> p) {
            sourcePrompts.clear();
            sourcePrompts.addAll(p);
            return this;
        }

        public Builder image(RgbImage... i) {
            images.clear();
            images.addAll(List.of(i));
            return this;
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

        public Builder guidanceScale(double v) {
            guidanceScale = v;
            return this;
        }

        public Builder sourceGuidanceScale(double v) {
            sourceGuidanceScale = v;
            return this;
        }

        /** See {@link EditRequest#sourceGuided()}: true for diffusers' four rows and its rounding. */
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

        public Builder promptEmbeds(FloatTensor v) {
            promptEmbeds = v;
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

        public Builder clipSkip(Integer v) {
            clipSkip = v;
            return this;
        }

        public Builder observer(EditObserver v) {
            observer = v;
            return this;
        }

        public EditRequest build() {
            return new EditRequest(prompts, sourcePrompts, images, imageTensor, strength, numInferenceSteps, guidanceScale,
                    sourceGuidanceScale, sourceGuided, numImagesPerPrompt, eta, seed, noise, promptEmbeds, outputType, callbackSteps, listener,
                    clipSkip, observer);
        }
    }
}
