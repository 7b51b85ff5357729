package org.cyclediffusion.core.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.image.VaeImageProcessor;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.spi.DpmEncoding;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.spi.LatentDistribution;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.ProgressListener;
import org.cyclediffusion.core.spi.SafetyChecker;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;

/**
 * CycleDiffusion: zero-shot image editing and unpaired translation with text-to-image diffusion
 * models through the DPM-Encoder (Wu and De la Torre, "Unifying Diffusion Models' Latent Space,
 * with Applications to CycleDiffusion and Guidance", arXiv 2210.05559), as diffusers'
 * {@code CycleDiffusionPipeline} v0.23.0 computes it, with the corrections of DESIGN §4.
 *
 * <p>Two chains run side by side. The source chain never uses the model to move: it is sampled
 * from the posterior q(x_{t−1} | x_t, x_0) of the input image's clean latents, so it stays on that
 * image's trajectory. At each step the noise z_t that would have produced that move from the
 * source prediction is recovered exactly; the start latents and these z_t are the image's latent
 * code ({@link #encode}). The target chain runs the sampler's stochastic steps under the target
 * prompt with that noise ({@link #decode}). With the target prompt equal to the source prompt the
 * target chain reproduces the input. {@link #edit} is {@code decode(encode(…))} with, when one
 * model runs both chains, one UNet call per step carrying both.
 *
 * <p>With two models the source chain runs on model A (its text encoder, its "" embedding, its
 * UNet, its VAE for the image latents and for decoding) and the target chain on model B (its text
 * encoder and "", its UNet); B's safety checker checks the output.
 *
 * <p>Not thread-safe per instance; one call at a time. Does not own the models it is given unless
 * built by {@link PipelineLoader}.
 */
public class CycleDiffusionPipeline implements AutoCloseable {
    /** diffusers' negative prompt when none is given: "", encoded from the last layer whatever clip_skip says. */
    private static final List<String> NEGATIVE = List.of("");

    private final DiffusionModel source;
    private final DiffusionModel target;
    private final DpmEncoding encoding;
    private final SafetyChecker safetyChecker;
    private final VaeImageProcessor imageProcessor;
    private final AutoCloseable owned;
    private final WeightResidency weightResidency;
    /** Loaded by {@link PipelineLoader#loadEncoder}: without its checker, so it makes no images. */
    private final boolean encoderOnly;

    /**
     * One model for both chains.
     *
     * @param schedulers    the model's sampler definition (asked once)
     * @param safetyChecker null to run without one
     * @param owned         closed with this pipeline (the models and checker when a loader built it), or null
     */
    public CycleDiffusionPipeline(Models models, Supplier<SchedulerFactory> schedulers, ClipTokenizer tokenizer, SafetyChecker safetyChecker,
            AutoCloseable owned) {
        this(new DiffusionModel(Objects.requireNonNull(models, "models").description(), models, tokenizer, schedulers.get()), null,
                safetyChecker, owned);
    }

    /**
     * @param source        model A: the source chain, the image latents and the decoding VAE
     * @param target        model B for the target chain, or null (or {@code source}) for a one-model edit
     * @param safetyChecker the checker of the target model, or null to run without one
     * @param owned         closed with this pipeline, or null
     * @throws ConfigException when the source sampler cannot encode, or A and B do not share a latent space and noise schedule
     */
    public CycleDiffusionPipeline(DiffusionModel source, DiffusionModel target, SafetyChecker safetyChecker, AutoCloseable owned) {
        this(source, target, safetyChecker, owned, WeightResidency.KEEP);
    }

    /**
     * As {@link #CycleDiffusionPipeline(DiffusionModel, DiffusionModel, SafetyChecker, AutoCloseable)}, with a
     * weight residency policy: {@link WeightResidency#RELEASE_AFTER_USE} tells the models' backends after each
     * network's last use in a run that its weights may leave memory (one-shot use); null is {@link WeightResidency#KEEP}.
     */
    public CycleDiffusionPipeline(DiffusionModel source, DiffusionModel target, SafetyChecker safetyChecker, AutoCloseable owned,
            WeightResidency weightResidency) {
        this(source, target, safetyChecker, owned, weightResidency, false);
    }

    private CycleDiffusionPipeline(DiffusionModel source, DiffusionModel target, SafetyChecker safetyChecker, AutoCloseable owned,
            WeightResidency weightResidency, boolean encoderOnly) {
        this.weightResidency = weightResidency == null ? WeightResidency.KEEP : weightResidency;
        this.source = Objects.requireNonNull(source, "source");
        this.target = target == null ? source : target;
        this.encoding = source.scheduler().dpmEncoding().orElseThrow(() -> new ConfigException("scheduler " + source.scheduler().className()
                + " of " + source.name() + " cannot be used for CycleDiffusion: it offers no posterior sample and noise recovery"
                + " (DpmEncoding); choose one that does, e.g. DDIMScheduler or DDPMScheduler"));
        if (this.target != source) {
            requireSharedLatentSpace(source, this.target);
        }
        this.safetyChecker = safetyChecker;
        this.imageProcessor = new VaeImageProcessor(source.models().vae().scaleFactor());
        this.owned = owned;
        this.encoderOnly = encoderOnly;
    }

    /** A pipeline for {@link #encode} alone ({@link PipelineLoader#loadEncoder}): edit and decode refuse to run. */
    static CycleDiffusionPipeline encoderOnly(DiffusionModel model, AutoCloseable owned, WeightResidency weightResidency) {
        return new CycleDiffusionPipeline(model, null, null, owned, weightResidency, true);
    }

    /** Images come out of edit and decode only where the loader opened the checker the folder declares. */
    private void requireImageOutput(String call) {
        if (encoderOnly) {
            throw new IllegalStateException(call + ": this pipeline was loaded to encode only (PipelineLoader.loadEncoder), without its"
                    + " safety checker; load it with PipelineLoader.load to " + call);
        }
    }

    /**
     * Unpaired translation needs one latent space and one noise process: the same latent channels,
     * VAE scaling factor, sampler class and training betas. Fails naming both models and both values.
     */
    static void requireSharedLatentSpace(DiffusionModel a, DiffusionModel b) {
        String both = "source model " + a.name() + " and target model " + b.name();
        int ca = a.models().unet().inChannels();
        int cb = b.models().unet().inChannels();
        if (ca != cb) {
            throw new ConfigException(both + " do not share a latent space: latent channels " + ca + " vs " + cb);
        }
        float sa = a.models().vae().scalingFactor();
        float sb = b.models().vae().scalingFactor();
        if (sa != sb) {
            throw new ConfigException(both + " do not share a latent space: VAE scaling_factor " + sa + " vs " + sb);
        }
        if (a.models().vae().scaleFactor() != b.models().vae().scaleFactor()) {
            throw new ConfigException(both + " do not share a latent space: VAE down-sampling " + a.models().vae().scaleFactor() + " vs "
                    + b.models().vae().scaleFactor());
        }
        if (!a.scheduler().className().equals(b.scheduler().className())) {
            throw new ConfigException(both + " use different samplers (" + a.scheduler().className() + " vs " + b.scheduler().className()
                    + "): the latent code is the noise of one sampler; choose one for both (--scheduler)");
        }
        if (!a.scheduler().noiseScheduleDigest().equals(b.scheduler().noiseScheduleDigest())) {
            throw new ConfigException(both + " do not share a noise schedule (betas and num_train_timesteps of scheduler/scheduler_config.json):"
                    + " " + a.scheduler().noiseScheduleDigest() + " vs " + b.scheduler().noiseScheduleDigest());
        }
    }

    /** The source model's networks (the only ones in a one-model pipeline). */
    public Models models() {
        return source.models();
    }

    public DiffusionModel sourceModel() {
        return source;
    }

    /** The target chain's model (the source model in a one-model pipeline). */
    public DiffusionModel targetModel() {
        return target;
    }

    public ClipTokenizer tokenizer() {
        return source.tokenizer();
    }

    public Optional<SafetyChecker> safetyChecker() {
        return Optional.ofNullable(safetyChecker);
    }

    public VaeImageProcessor imageProcessor() {
        return imageProcessor;
    }

    public WeightResidency weightResidency() {
        return weightResidency;
    }

    /**
     * Runs one edit: {@code decode(encode(r.encodeRequest()), r.decodeRequest())}, with both chains in
     * step. Every parameter is validated before any model runs. One model: one UNet call per step
     * with all branches stacked ([src_uncond, tgt_uncond, src_cond, tgt_cond], diffusers' batch, less
     * the source's unconditional rows when its chain is not guided: {@link StepRows}).
     */
    public EditResult edit(EditRequest request) {
        requireImageOutput("edit");
        long t0 = System.nanoTime();
        Plan plan = Plan.of(request);
        EncodeRequest er = request.encodeRequest();
        DecodeRequest dr = request.decodeRequest();
        SamplerOptions options = new SamplerOptions(request.eta());
        DpmEncoder encoder = encoder(options);
        Scheduler targetScheduler = target.scheduler().create(options);
        EditObserver obs = request.observer();
        Inputs in = inputs(er, target.models().unet());
        int batch = plan.rows() * request.numImagesPerPrompt();

        phase(request.listener(), EditPhase.ENCODING_PROMPT);
        warnTruncated(request.listener(), target, plan.prompts());
        warnTruncated(request.listener(), source, plan.sourcePrompts());
        long tp = System.nanoTime();
        PromptBatch prompts = new PromptBatch();
        addSourcePrompts(prompts, plan, er);
        addTargetPrompts(prompts, plan, dr);
        Embeddings src = sourceEmbeddings(plan, er, prompts);
        Embeddings tgt = targetEmbeddings(plan, dr, request.numImagesPerPrompt(), src, prompts);
        releaseAfter(EditPhase.ENCODING_PROMPT, source, target);
        double promptMillis = millisSince(tp);

        int[] timesteps = schedule(encoder, er);
        requireSameTimesteps(targetScheduler, er.numInferenceSteps(), er.strength(), timesteps, "the source model's " + encoder.getClass().getSimpleName(),
                "target model " + target.name());
        long te = System.nanoTime();
        NoiseSource noise = noise(er);
        SourceChain sourceChain = startSourceChain(encoder, in, plan, er, timesteps[0], noise);
        releaseAfter(EditPhase.ENCODING_IMAGE, source);
        TargetChain targetChain = new TargetChain(targetScheduler, sourceChain.latents());
        double encodeMillis = millisSince(te);

        double[] stepMillis = new double[timesteps.length];
        double schedulerMillis = 0;
        boolean guided = plan.guided();
        boolean sourceGuided = er.guided();
        StepRows rows = new StepRows(sourceGuided, guided, batch);
        boolean stacked = target == source;
        phase(request.listener(), EditPhase.DENOISING);
        UNet unetA = source.models().unet();
        UNet unetB = target.models().unet();
        FloatTensor sourceStates = chainStates(src, sourceGuided);
        FloatTensor targetStates = chainStates(tgt, guided);
        try (Conditioning condA = unetA.condition(stacked ? rows.stack(sourceStates, targetStates) : sourceStates);
                Conditioning condB = stacked ? null : unetB.condition(targetStates)) {
            for (int i = 0; i < timesteps.length; i++) {
                long ts = System.nanoTime();
                int t = timesteps[i];
                FloatTensor x = StepRows.chainInput(targetChain.modelInput(t), guided);
                FloatTensor xs = StepRows.chainInput(sourceChain.modelInput(t), sourceGuided);
                FloatTensor out;
                FloatTensor outA;
                FloatTensor outB;
                if (stacked) {
                    // One UNet call for both chains, as diffusers (one model edits its own image).
                    out = unetA.predict(rows.stack(xs, x), t, condA);
                    outA = rows.source(out);
                    outB = rows.target(out);
                } else {
                    outA = unetA.predict(xs, t, condA);
                    outB = unetB.predict(x, t, condB);
                    out = rows.stack(outA, outB);
                }
                long tm = System.nanoTime();
                FloatTensor sourcePred = StepRows.prediction(outA, sourceGuided, request.sourceGuidanceScale());
                FloatTensor pred = StepRows.prediction(outB, guided, request.guidanceScale());
                FloatTensor z = sourceChain.advance(t, sourcePred);
                targetChain.advance(t, pred, z);
                schedulerMillis += millisSince(tm);
                stepMillis[i] = millisSince(ts);
                obs.step(i, t, out, sourceChain.latents(), z, targetChain.latents());
                progress(request.listener(), request.callbackSteps(), i, timesteps.length, t, targetChain.latents());
            }
        }
        releaseAfter(EditPhase.DENOISING, source, target);
        return finish(targetChain.latents(), request.outputType(), obs, request.listener(), promptMillis, encodeMillis, stepMillis,
                schedulerMillis, t0);
    }

    /**
     * The DPM-Encoder alone: runs the source chain and returns the latent code of the images. Draws
     * every random number an edit draws, in the same order.
     */
    public LatentCode encode(EncodeRequest request) {
        Plan plan = Plan.of(request);
        DpmEncoder encoder = encoder(new SamplerOptions(request.eta()));
        EditObserver obs = request.observer();
        Inputs in = inputs(request, null);
        phase(request.listener(), EditPhase.ENCODING_PROMPT);
        warnTruncated(request.listener(), source, plan.sourcePrompts());
        PromptBatch prompts = new PromptBatch();
        addSourcePrompts(prompts, plan, request);
        Embeddings src = sourceEmbeddings(plan, request, prompts);
        releaseAfter(EditPhase.ENCODING_PROMPT, source);
        int[] timesteps = schedule(encoder, request);
        SourceChain chain = startSourceChain(encoder, in, plan, request, timesteps[0], noise(request));
        releaseAfter(EditPhase.ENCODING_IMAGE, source);
        FloatTensor start = chain.latents();
        boolean guided = plan.guided();
        float[] noises = new float[timesteps.length * start.size()];
        UNet unet = source.models().unet();
        phase(request.listener(), EditPhase.DENOISING);
        try (Conditioning cond = unet.condition(chainStates(src, guided))) {
            for (int i = 0; i < timesteps.length; i++) {
                int t = timesteps[i];
                FloatTensor xs = chain.modelInput(t);
                FloatTensor out = unet.predict(StepRows.chainInput(xs, guided), t, cond);
                FloatTensor pred = StepRows.prediction(out, guided, request.sourceGuidanceScale());
                FloatTensor z = chain.advance(t, pred);
                System.arraycopy(z.data(), 0, noises, i * start.size(), start.size());
                obs.step(i, t, out, chain.latents(), z, null);
                progress(request.listener(), request.callbackSteps(), i, timesteps.length, t, chain.latents());
            }
        }
        releaseAfter(EditPhase.DENOISING, source);
        int[] noiseShape = new int[5];
        noiseShape[0] = timesteps.length;
        System.arraycopy(start.shape(), 0, noiseShape, 1, 4);
        return new LatentCode(source.scheduler().className(), source.scheduler().noiseScheduleDigest(), source.scheduler().configDigest(),
                timesteps, request.numInferenceSteps(), request.strength(), request.eta(), start, new FloatTensor(noises, noiseShape),
                in.height(), in.width(), plan.rows(), request.numImagesPerPrompt(), source.models().vae().scalingFactor(), source.name(),
                encodeParameters(plan, request));
    }

    /**
     * Runs the target chain of the pipeline's target model from a latent code, under the target
     * prompts. Draws nothing. Fails before any network runs when the code was made by another
     * sampler or noise schedule, with other timesteps, or in a latent space this model does not take.
     */
    public EditResult decode(LatentCode code, DecodeRequest request) {
        requireImageOutput("decode");
        long t0 = System.nanoTime();
        Objects.requireNonNull(code, "code");
        Plan plan = Plan.of(request, code.rows());
        Scheduler scheduler = target.scheduler().create(new SamplerOptions(code.eta()));
        requireDecodable(code, scheduler);
        EditObserver obs = request.observer();
        phase(request.listener(), EditPhase.ENCODING_PROMPT);
        warnTruncated(request.listener(), target, plan.prompts());
        long tp = System.nanoTime();
        PromptBatch prompts = new PromptBatch();
        addTargetPrompts(prompts, plan, request);
        Embeddings tgt = targetEmbeddings(plan, request, code.numImagesPerPrompt(), null, prompts);
        releaseAfter(EditPhase.ENCODING_PROMPT, target);
        double promptMillis = millisSince(tp);
        int[] timesteps = code.timesteps();
        TargetChain chain = new TargetChain(scheduler, code.startLatents());
        obs.tensor("init_latents", code.startLatents());
        boolean guided = plan.guided();
        double[] stepMillis = new double[timesteps.length];
        double schedulerMillis = 0;
        UNet unet = target.models().unet();
        phase(request.listener(), EditPhase.DENOISING);
        try (Conditioning cond = unet.condition(chainStates(tgt, guided))) {
            for (int i = 0; i < timesteps.length; i++) {
                long ts = System.nanoTime();
                int t = timesteps[i];
                FloatTensor x = chain.modelInput(t);
                FloatTensor out = unet.predict(StepRows.chainInput(x, guided), t, cond);
                long tm = System.nanoTime();
                FloatTensor pred = StepRows.prediction(out, guided, request.guidanceScale());
                FloatTensor z = code.noise(i);
                chain.advance(t, pred, z);
                schedulerMillis += millisSince(tm);
                stepMillis[i] = millisSince(ts);
                obs.step(i, t, out, null, z, chain.latents());
                progress(request.listener(), request.callbackSteps(), i, timesteps.length, t, chain.latents());
            }
        }
        releaseAfter(EditPhase.DENOISING, target);
        return finish(chain.latents(), request.outputType(), obs, request.listener(), promptMillis, 0, stepMillis, schedulerMillis, t0);
    }

    private void requireDecodable(LatentCode code, Scheduler scheduler) {
        String ours = "target model " + target.name() + " (" + target.scheduler().className() + ")";
        String theirs = "the code (made by " + code.model() + " with " + code.scheduler() + ")";
        if (!code.scheduler().equals(target.scheduler().className())) {
            throw new InvalidRequestException("code: sampled with " + code.scheduler() + ", " + ours + " samples with "
                    + target.scheduler().className() + ": a latent code is the noise of one sampler; decode with --scheduler " + code.scheduler());
        }
        if (!code.noiseSchedule().equals(target.scheduler().noiseScheduleDigest())) {
            throw new InvalidRequestException("code: noise schedule of " + theirs + " is " + code.noiseSchedule() + ", that of " + ours + " is "
                    + target.scheduler().noiseScheduleDigest() + " (betas and num_train_timesteps must be equal)");
        }
        requireSameTimesteps(scheduler, code.numInferenceSteps(), code.strength(), code.timesteps(), theirs, ours);
        int channels = target.models().unet().inChannels();
        if (code.startLatents().dim(1) != channels) {
            throw new InvalidRequestException("code: " + theirs + " has " + code.startLatents().dim(1) + " latent channels, " + ours + " takes "
                    + channels);
        }
        float scaling = source.models().vae().scalingFactor();
        if (code.vaeScalingFactor() != scaling) {
            throw new InvalidRequestException("code: " + theirs + " is in a latent space of VAE scaling_factor " + code.vaeScalingFactor()
                    + ", the decoding VAE of " + source.name() + " has " + scaling);
        }
        int h = code.startLatents().dim(2);
        int w = code.startLatents().dim(3);
        int f = source.models().vae().scaleFactor();
        if (h * f != code.imageHeight() || w * f != code.imageWidth()) {
            throw new InvalidRequestException("code: " + theirs + " holds " + h + "x" + w + " latents of a " + code.imageWidth() + "x"
                    + code.imageHeight() + " image, but the VAE of " + source.name() + " down-samples by " + f);
        }
        try {
            target.models().unet().checkLatentSize(h, w);
        } catch (RuntimeException e) {
            throw new InvalidRequestException("code: " + theirs + " holds latents of " + h + "x" + w + " (image " + code.imageWidth() + "x"
                    + code.imageHeight() + "), which " + ours + " cannot take: " + e.getMessage());
        }
    }

    private static void requireSameTimesteps(Scheduler scheduler, int steps, double strength, int[] expected, String theirs, String ours) {
        scheduler.setTimesteps(steps);
        int[] ts = Timesteps.forStrength(scheduler.timesteps(), steps, strength, scheduler.order());
        if (!Arrays.equals(ts, expected)) {
            throw new InvalidRequestException("timesteps of " + theirs + " are " + Arrays.toString(expected) + ", those of " + ours + " for "
                    + steps + " steps at strength " + strength + " are " + Arrays.toString(ts) + " (timestep_spacing or steps_offset differ)");
        }
    }

    /** The source chain's sampler, its options checked before any network runs. */
    private DpmEncoder encoder(SamplerOptions options) {
        try {
            return encoding.encoder(options);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage());
        }
    }

    private static NoiseSource noise(EncodeRequest r) {
        return r.noise() != null ? r.noise() : new TorchGenerator(r.seed());
    }

    /** Input pixels (or given latents), checked against what the UNets can take before any network runs. */
    private record Inputs(FloatTensor pixels, FloatTensor latents, int height, int width) {
    }

    private Inputs inputs(EncodeRequest r, UNet alsoTarget) {
        FloatTensor pixels = null;
        FloatTensor givenLatents = null;
        Models a = source.models();
        if (r.imageTensor() != null) {
            FloatTensor it = r.imageTensor();
            if (it.dim(1) == a.unet().inChannels()) {
                givenLatents = it;
            } else {
                pixels = it;
            }
        } else {
            pixels = imageProcessor.preprocess(r.images());
        }
        int f = a.vae().scaleFactor();
        int latentH = givenLatents != null ? givenLatents.dim(2) : pixels.dim(2) / f;
        int latentW = givenLatents != null ? givenLatents.dim(3) : pixels.dim(3) / f;
        a.unet().checkLatentSize(latentH, latentW);
        if (alsoTarget != null && alsoTarget != a.unet()) {
            alsoTarget.checkLatentSize(latentH, latentW);
        }
        if (pixels != null) {
            r.observer().tensor("image_input", pixels);
        }
        return new Inputs(pixels, givenLatents, latentH * f, latentW * f);
    }

    /** Prompt embeddings of one chain (repeated per image copy) and its "" embedding when guided. */
    private record Embeddings(FloatTensor cond, FloatTensor uncond) {
    }

    /** What {@link #sourceEmbeddings} will take from {@code prompts}. */
    private void addSourcePrompts(PromptBatch prompts, Plan plan, EncodeRequest r) {
        prompts.add(source, r.clipSkip() == null ? 0 : r.clipSkip(), plan.sourcePrompts());
        if (r.guided()) {
            prompts.add(source, 0, NEGATIVE);
        }
    }

    /** What {@link #targetEmbeddings} will take from {@code prompts}. */
    private void addTargetPrompts(PromptBatch prompts, Plan plan, DecodeRequest r) {
        if (r.promptEmbeds() == null) {
            prompts.add(target, r.clipSkip() == null ? 0 : r.clipSkip(), plan.prompts());
        }
        if (plan.guided()) {
            prompts.add(target, 0, NEGATIVE);
        }
    }

    private Embeddings sourceEmbeddings(Plan plan, EncodeRequest r, PromptBatch prompts) {
        int clipSkip = r.clipSkip() == null ? 0 : r.clipSkip();
        FloatTensor cond = prompts.get(source, clipSkip, plan.sourcePrompts()).repeatInterleave(r.numImagesPerPrompt());
        r.observer().tensor("source_prompt_embeds", cond);
        FloatTensor uncond = r.guided() ? negative(source, cond.dim(0), r.observer(), prompts) : null;
        return new Embeddings(cond, uncond);
    }

    /** @param shared the source chain's embeddings when the target model is the same (its "" is reused) */
    private Embeddings targetEmbeddings(Plan plan, DecodeRequest r, int n, Embeddings shared, PromptBatch prompts) {
        int clipSkip = r.clipSkip() == null ? 0 : r.clipSkip();
        FloatTensor cond = r.promptEmbeds() != null
                ? broadcastRows(r.promptEmbeds(), plan.rows(), "promptEmbeds").repeatInterleave(n)
                : prompts.get(target, clipSkip, plan.prompts()).repeatInterleave(n);
        r.observer().tensor("prompt_embeds", cond);
        FloatTensor uncond = null;
        if (plan.guided()) {
            uncond = shared != null && target == source && shared.uncond() != null ? shared.uncond() : negative(target, cond.dim(0), r.observer(), prompts);
        }
        return new Embeddings(cond, uncond);
    }

    /**
     * The negative prompt "" of a model, one row per batch row. diffusers encodes it from the last
     * layer whatever clip_skip says: clip skip applies to the prompts only.
     */
    private static FloatTensor negative(DiffusionModel m, int batch, EditObserver obs, PromptBatch prompts) {
        FloatTensor uncond = broadcastRows(prompts.get(m, 0, NEGATIVE), batch, "uncond");
        obs.tensor("negative_prompt_embeds", uncond);
        return uncond;
    }

    private static FloatTensor chainStates(Embeddings e, boolean guided) {
        return guided ? FloatTensor.cat(e.uncond(), e.cond()) : e.cond();
    }

    private static int[] schedule(Scheduler scheduler, EncodeRequest r) {
        scheduler.setTimesteps(r.numInferenceSteps());
        return Timesteps.forStrength(scheduler.timesteps(), r.numInferenceSteps(), r.strength(), scheduler.order());
    }

    /** Clean latents x0 (rng draw #1 when encoding pixels) and the noised start x_T' (draw #2). */
    private SourceChain startSourceChain(DpmEncoder encoder, Inputs in, Plan plan, EncodeRequest r, int firstTimestep, NoiseSource noise) {
        EditObserver obs = r.observer();
        FloatTensor clean;
        if (in.latents() != null) {
            clean = in.latents();
        } else {
            phase(r.listener(), EditPhase.ENCODING_IMAGE);
            LatentDistribution dist = source.models().vae().encode(in.pixels());
            obs.tensor("vae_mean", dist.mean());
            obs.tensor("vae_logvar", dist.logvar());
            clean = scale(dist.sample(noise), source.models().vae().scalingFactor());
        }
        // One latent per distinct image, drawn before repetition (diffusers' draw order); then
        // broadcast to the rows and repeated per copy, so row i·n + k belongs to image i.
        clean = broadcastRows(clean, plan.rows(), "image").repeatInterleave(r.numImagesPerPrompt());
        obs.tensor("clean_latents", clean);
        int[] latentTimestep = new int[clean.dim(0)];
        Arrays.fill(latentTimestep, firstTimestep);
        FloatTensor start = encoder.addNoise(clean, noise.randn(clean.shape()), latentTimestep);
        obs.tensor("init_latents", start);
        return new SourceChain(encoder, clean, start, noise);
    }

    /**
     * Under {@link WeightResidency#RELEASE_AFTER_USE}: the networks {@code phase} ran are done for this
     * run, so each model's backend may drop their weights from memory (each model once).
     */
    private void releaseAfter(EditPhase phase, DiffusionModel... models) {
        if (weightResidency == WeightResidency.RELEASE_AFTER_USE) {
            Arrays.stream(models).distinct().forEach(m -> m.models().releaseResidentWeights(phase));
        }
    }

    /** Tells the listener a phase begins; it may cancel before the phase runs any network. */
    private static void phase(ProgressListener listener, EditPhase phase) {
        if (listener != null && !listener.onPhase(phase)) {
            throw new EditCancelledException(phase);
        }
    }

    /** diffusers' warning for prompts longer than CLIP takes, with the text the model never sees. */
    private static void warnTruncated(ProgressListener listener, DiffusionModel model, List<String> prompts) {
        ProgressListener l = listener != null ? listener : (step, total, t, latents) -> true;
        for (String prompt : new LinkedHashSet<>(prompts)) {
            String dropped = model.tokenizer().truncatedText(prompt);
            if (!dropped.isEmpty()) {
                l.onWarning("The following part of your input was truncated because CLIP can only handle sequences up to "
                        + model.tokenizer().maxLength() + " tokens: ['" + dropped + "']");
            }
        }
    }

    private static void progress(ProgressListener listener, int every, int i, int total, int t, FloatTensor latents) {
        if (listener != null && i % every == 0 && !listener.onStep(i, total, t, latents)) {
            throw new EditCancelledException(i, total);
        }
    }

    private static ObjectNode encodeParameters(Plan plan, EncodeRequest r) {
        ObjectNode p = new ObjectMapper().createObjectNode();
        ArrayNode sp = p.putArray("source_prompts");
        plan.sourcePrompts().forEach(sp::add);
        p.put("strength", r.strength());
        p.put("num_inference_steps", r.numInferenceSteps());
        p.put("source_guidance_scale", r.sourceGuidanceScale());
        p.put("source_guided", plan.guided());
        p.put("eta", r.eta());
        p.put("num_images_per_prompt", r.numImagesPerPrompt());
        if (r.noise() == null) {
            p.put("seed", r.seed());
        }
        if (r.clipSkip() != null) {
            p.put("clip_skip", r.clipSkip());
        }
        return p;
    }

    /** Decode with the source model's VAE, check with the target model's checker, post-process. */
    private EditResult finish(FloatTensor latents, OutputType outputType, EditObserver obs, ProgressListener listener, double promptMillis,
            double encodeMillis, double[] stepMillis, double schedulerMillis, long t0) {
        obs.tensor("final_latents", latents);
        if (outputType == OutputType.LATENT) {
            return new EditResult(List.of(), null, latents, Optional.empty(),
                    new Timings(promptMillis, encodeMillis, stepMillis, schedulerMillis, 0, 0, millisSince(t0)));
        }
        phase(listener, EditPhase.DECODING);
        long td = System.nanoTime();
        FloatTensor decodeInput = divide(latents, source.models().vae().scalingFactor());
        obs.tensor("vae_decode_input", decodeInput);
        FloatTensor decoded = source.models().vae().decode(decodeInput);
        releaseAfter(EditPhase.DECODING, source);
        obs.tensor("decoded", decoded);
        double decodeMillis = millisSince(td);
        long tsafe = System.nanoTime();
        int batch = latents.dim(0);
        Optional<List<SafetyVerdict>> verdicts = Optional.empty();
        boolean[] denormalize = new boolean[batch];
        Arrays.fill(denormalize, true);
        if (safetyChecker != null) {
            phase(listener, EditPhase.SAFETY_CHECK);
            List<SafetyVerdict> v = safetyChecker.check(decoded);
            releaseAfter(EditPhase.SAFETY_CHECK, target);
            verdicts = Optional.of(v);
            decoded = decoded.copy();
            int per = decoded.rowSize();
            for (int i = 0; i < batch; i++) {
                if (v.get(i).nsfw()) {
                    // As diffusers: a flagged image becomes zeros and is not denormalised: black.
                    Arrays.fill(decoded.data(), i * per, (i + 1) * per, 0f);
                    denormalize[i] = false;
                }
            }
        }
        double safetyMillis = millisSince(tsafe);
        FloatTensor np = imageProcessor.postprocessNp(decoded, denormalize);
        obs.tensor("image_np", np);
        List<RgbImage> images = imageProcessor.toRgbImages(np);
        return new EditResult(images, np, latents, verdicts,
                new Timings(promptMillis, encodeMillis, stepMillis, schedulerMillis, decodeMillis, safetyMillis, millisSince(t0)));
    }

    /** One row for every row, or exactly {@code rows} rows. */
    static FloatTensor broadcastRows(FloatTensor t, int rows, String what) {
        if (t.dim(0) == rows) {
            return t;
        }
        if (t.dim(0) != 1) {
            throw new InvalidRequestException(what + ": " + t.dim(0) + " rows, expected 1 or " + rows);
        }
        return t.repeatInterleave(rows);
    }

    private static FloatTensor scale(FloatTensor t, float s) {
        float[] d = t.data();
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = s * d[i];
        }
        return new FloatTensor(out, t.shape());
    }

    private static FloatTensor divide(FloatTensor t, float s) {
        float[] d = t.data();
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = d[i] / s;
        }
        return new FloatTensor(out, t.shape());
    }

    private static double millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1e6;
    }

    @Override
    public void close() {
        if (owned != null) {
            try {
                owned.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("closing the pipeline's models failed", e);
            }
        }
    }
}
