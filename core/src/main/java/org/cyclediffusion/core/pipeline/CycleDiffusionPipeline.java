package org.cyclediffusion.core.pipeline;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.image.VaeImageProcessor;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DpmEncodable;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.spi.LatentDistribution;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.ProgressListener;
import org.cyclediffusion.core.spi.SafetyChecker;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;

/**
 * CycleDiffusion: zero-shot image editing with a text-to-image diffusion model through the
 * DPM-Encoder (Wu and De la Torre, "Unifying Diffusion Models' Latent Space, with Applications to
 * CycleDiffusion and Guidance", arXiv 2210.05559), as diffusers' {@code CycleDiffusionPipeline}
 * v0.23.0 computes it, with the corrections of DESIGN §4.
 *
 * <p>Two chains run side by side. The source chain never uses the model to move: it is sampled
 * from the posterior q(x_{t−1} | x_t, x_0) of the input image's clean latents, so it stays on that
 * image's trajectory. At each step the noise z_t that would have produced that move from the
 * source prediction is recovered exactly (the DPM-Encoder's latent code) and drives the target
 * chain's stochastic DDIM step under the target prompt. With the target prompt equal to the source
 * prompt the target chain therefore reproduces the input.
 *
 * <p>Not thread-safe per instance; one edit at a time. Does not own the models it is given unless
 * built by {@link PipelineLoader}.
 */
public class CycleDiffusionPipeline implements AutoCloseable {
    private final Models models;
    private final Supplier<Scheduler> schedulers;
    private final ClipTokenizer tokenizer;
    private final SafetyChecker safetyChecker;
    private final VaeImageProcessor imageProcessor;
    private final AutoCloseable owned;

    /**
     * @param schedulers    a fresh scheduler per edit (schedulers are stateful)
     * @param safetyChecker null to run without one
     * @param owned         closed with this pipeline (the models and checker when a loader built it), or null
     */
    public CycleDiffusionPipeline(Models models, Supplier<Scheduler> schedulers, ClipTokenizer tokenizer, SafetyChecker safetyChecker,
            AutoCloseable owned) {
        this.models = Objects.requireNonNull(models, "models");
        this.schedulers = Objects.requireNonNull(schedulers, "schedulers");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.safetyChecker = safetyChecker;
        this.imageProcessor = new VaeImageProcessor(models.vae().scaleFactor());
        this.owned = owned;
    }

    public Models models() {
        return models;
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    public Optional<SafetyChecker> safetyChecker() {
        return Optional.ofNullable(safetyChecker);
    }

    public VaeImageProcessor imageProcessor() {
        return imageProcessor;
    }

    /** Runs one edit. Every parameter is validated before any model runs. */
    public EditResult edit(EditRequest request) {
        long t0 = System.nanoTime();
        Scheduler scheduler = schedulers.get();
        Plan plan = Plan.of(request, scheduler);
        DpmEncodable dpm = (DpmEncodable) scheduler;
        EditObserver obs = request.observer();
        NoiseSource noise = request.noise() != null ? request.noise() : new TorchGenerator(request.seed());
        int rows = plan.rows();
        int n = request.numImagesPerPrompt();
        int batch = rows * n;

        // 1. Images to pixels, checked against what the UNet can take before any network runs.
        FloatTensor pixels = null;
        FloatTensor givenLatents = null;
        if (request.imageTensor() != null) {
            FloatTensor it = request.imageTensor();
            if (it.dim(1) == models.unet().inChannels()) {
                givenLatents = it;
            } else {
                pixels = it;
            }
        } else {
            pixels = imageProcessor.preprocess(request.images());
        }
        int latentH = givenLatents != null ? givenLatents.dim(2) : pixels.dim(2) / models.vae().scaleFactor();
        int latentW = givenLatents != null ? givenLatents.dim(3) : pixels.dim(3) / models.vae().scaleFactor();
        models.unet().checkLatentSize(latentH, latentW);
        if (pixels != null) {
            obs.tensor("image_input", pixels);
        }

        // 2. Prompts to embeddings (diffusers' encode_prompt), repeated per image copy.
        phase(request, EditPhase.ENCODING_PROMPT);
        warnTruncated(request, plan);
        long tp = System.nanoTime();
        int clipSkip = request.clipSkip() == null ? 0 : request.clipSkip();
        FloatTensor promptEmbeds = request.promptEmbeds() != null
                ? broadcastRows(request.promptEmbeds(), rows, "promptEmbeds").repeatInterleave(n)
                : encode(plan.prompts(), clipSkip).repeatInterleave(n);
        FloatTensor sourceEmbeds = encode(plan.sourcePrompts(), clipSkip).repeatInterleave(n);
        FloatTensor uncondEmbeds = null;
        if (plan.guided()) {
            // The negative prompt is "" for both chains, one row per batch row. diffusers encodes it
            // from the last layer whatever clip_skip says: clip skip applies to the prompts only.
            FloatTensor empty = encode(List.of(""), 0);
            uncondEmbeds = broadcastRows(empty, batch, "uncond");
            obs.tensor("negative_prompt_embeds", uncondEmbeds);
        }
        obs.tensor("prompt_embeds", promptEmbeds);
        obs.tensor("source_prompt_embeds", sourceEmbeds);
        double promptMillis = millisSince(tp);

        // 3. Timesteps for this strength.
        scheduler.setTimesteps(request.numInferenceSteps());
        int[] timesteps = Timesteps.forStrength(scheduler.timesteps(), request.numInferenceSteps(), request.strength(), scheduler.order());

        // 4. Clean latents x0 (rng draw #1 when encoding) and the noised start x_T' (draw #2).
        long te = System.nanoTime();
        FloatTensor clean;
        if (givenLatents != null) {
            clean = givenLatents;
        } else {
            phase(request, EditPhase.ENCODING_IMAGE);
            LatentDistribution dist = models.vae().encode(pixels);
            obs.tensor("vae_mean", dist.mean());
            obs.tensor("vae_logvar", dist.logvar());
            clean = scale(dist.sample(noise), models.vae().scalingFactor());
        }
        // One latent per distinct image, drawn before repetition (diffusers' draw order); then
        // broadcast to the rows and repeated per copy, so row i·n + k belongs to image i.
        clean = broadcastRows(clean, rows, "image").repeatInterleave(n);
        obs.tensor("clean_latents", clean);
        int[] latentTimestep = new int[batch];
        Arrays.fill(latentTimestep, timesteps[0]);
        FloatTensor startNoise = noise.randn(clean.shape());
        FloatTensor latents = scheduler.addNoise(clean, startNoise, latentTimestep);
        FloatTensor sourceLatents = latents;
        obs.tensor("init_latents", latents);
        double encodeMillis = millisSince(te);

        // 5. The denoising loop: one UNet call per step with every branch stacked.
        FloatTensor hiddenStates = plan.guided()
                ? FloatTensor.cat(uncondEmbeds, uncondEmbeds, sourceEmbeds, promptEmbeds)
                : FloatTensor.cat(sourceEmbeds, promptEmbeds);
        float eta = (float) request.eta();
        double[] stepMillis = new double[timesteps.length];
        phase(request, EditPhase.DENOISING);
        double schedulerMillis = 0;
        try (Conditioning conditioning = models.unet().condition(hiddenStates)) {
            for (int i = 0; i < timesteps.length; i++) {
                long ts = System.nanoTime();
                int t = timesteps[i];
                FloatTensor x = scheduler.scaleModelInput(latents, t);
                FloatTensor xs = scheduler.scaleModelInput(sourceLatents, t);
                FloatTensor unetIn = plan.guided() ? FloatTensor.cat(xs, x, xs, x) : FloatTensor.cat(xs, x);
                FloatTensor out = models.unet().predict(unetIn, t, conditioning);
                long tm = System.nanoTime();
                FloatTensor sourcePred;
                FloatTensor pred;
                if (plan.guided()) {
                    // Classifier-free guidance: ε̂ = ε(∅) + g·(ε(c) − ε(∅)), per chain with its own scale.
                    sourcePred = guide(out.rows(0, batch), out.rows(2 * batch, 3 * batch), request.sourceGuidanceScale());
                    pred = guide(out.rows(batch, 2 * batch), out.rows(3 * batch, 4 * batch), request.guidanceScale());
                } else {
                    sourcePred = out.rows(0, batch);
                    pred = out.rows(batch, 2 * batch);
                }
                // DPM-Encoder: the source chain follows the posterior of the input's clean latents,
                // and z_t is the noise that makes the sampler's own step land there.
                FloatTensor prevSource = dpm.posteriorSample(sourceLatents, clean, t, eta, noise);
                FloatTensor z = dpm.recoverNoise(prevSource, sourceLatents, t, sourcePred, eta);
                sourceLatents = prevSource;
                latents = scheduler.step(pred, t, latents, eta, z).prevSample();
                schedulerMillis += millisSince(tm);
                stepMillis[i] = millisSince(ts);
                obs.step(i, t, out, sourceLatents, z, latents);
                if (request.listener() != null && i % request.callbackSteps() == 0
                        && !request.listener().onStep(i, timesteps.length, t, latents)) {
                    throw new EditCancelledException(i, timesteps.length);
                }
            }
        }
        obs.tensor("final_latents", latents);
        if (request.outputType() == OutputType.LATENT) {
            return new EditResult(List.of(), null, latents, Optional.empty(),
                    new Timings(promptMillis, encodeMillis, stepMillis, schedulerMillis, 0, 0, millisSince(t0)));
        }

        // 6. Decode, check, post-process.
        phase(request, EditPhase.DECODING);
        long td = System.nanoTime();
        FloatTensor decodeInput = divide(latents, models.vae().scalingFactor());
        obs.tensor("vae_decode_input", decodeInput);
        FloatTensor decoded = models.vae().decode(decodeInput);
        obs.tensor("decoded", decoded);
        double decodeMillis = millisSince(td);
        long tsafe = System.nanoTime();
        Optional<List<SafetyVerdict>> verdicts = Optional.empty();
        boolean[] denormalize = new boolean[batch];
        Arrays.fill(denormalize, true);
        if (safetyChecker != null) {
            phase(request, EditPhase.SAFETY_CHECK);
            List<SafetyVerdict> v = safetyChecker.check(decoded);
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

    /** Tells the listener a phase begins; it may cancel before the phase runs any network. */
    private static void phase(EditRequest request, EditPhase phase) {
        if (request.listener() != null && !request.listener().onPhase(phase)) {
            throw new EditCancelledException(phase);
        }
    }

    /** diffusers' warning for prompts longer than CLIP takes, with the text the model never sees. */
    private void warnTruncated(EditRequest request, Plan plan) {
        ProgressListener listener = request.listener() != null ? request.listener() : (step, total, t, latents) -> true;
        Set<String> seen = new LinkedHashSet<>(plan.prompts());
        seen.addAll(plan.sourcePrompts());
        for (String prompt : seen) {
            String dropped = tokenizer.truncatedText(prompt);
            if (!dropped.isEmpty()) {
                listener.onWarning("The following part of your input was truncated because CLIP can only handle sequences up to "
                        + tokenizer.maxLength() + " tokens: ['" + dropped + "']");
            }
        }
    }

    private FloatTensor encode(List<String> prompts, int clipSkip) {
        long[][] ids = tokenizer.encode(prompts);
        return models.textEncoder().encode(ids, clipSkip);
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

    /** uncond + g·(cond − uncond), in float32 as torch evaluates it. */
    static FloatTensor guide(FloatTensor uncond, FloatTensor cond, double scale) {
        float g = (float) scale;
        float[] u = uncond.data();
        float[] c = cond.data();
        float[] out = new float[u.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = u[i] + g * (c[i] - u[i]);
        }
        return new FloatTensor(out, uncond.shape());
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
