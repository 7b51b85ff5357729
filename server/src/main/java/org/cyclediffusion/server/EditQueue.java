package org.cyclediffusion.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditCancelledException;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.Timings;

/**
 * Runs edits one at a time on one pipeline (which is not thread-safe), in arrival order, on one
 * worker thread. At most {@code maxQueue} edits wait behind the running one; beyond that
 * {@link #submit} refuses with 429 and a Retry-After estimated from recent edit times.
 */
final class EditQueue implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(EditQueue.class.getName());
    /** Finished jobs kept for GET /api/jobs/{id}; older ones are forgotten (their results can be large). */
    static final int KEEP_FINISHED = 64;

    private final CycleDiffusionPipeline pipeline;
    private final ServerOptions options;
    private final LinkedBlockingQueue<Job> waiting = new LinkedBlockingQueue<>();
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    private final Thread worker;
    private final SecureRandom ids = new SecureRandom();
    private volatile boolean closed;
    private volatile Job running;
    /** Mean seconds of recent edits, for Retry-After. */
    private volatile double meanEditSeconds = 1;
    private final java.util.concurrent.atomic.AtomicLong editsDone = new java.util.concurrent.atomic.AtomicLong();

    EditQueue(CycleDiffusionPipeline pipeline, ServerOptions options) {
        this.pipeline = pipeline;
        this.options = options;
        this.worker = new Thread(this::work, "cyclediffusion-edit-worker");
        this.worker.setDaemon(true);
        this.worker.start();
    }

    /**
     * Queues an edit.
     *
     * @param listed whether {@code GET /api/jobs/{id}} can find it (jobs) or only the caller holds it (edit)
     * @throws ApiException 429 when the queue is full, 503 when the server is stopping
     */
    Job submit(EditSpec spec, boolean listed) {
        synchronized (this) {
            if (closed) {
                throw new ApiException(503, null, "the server is shutting down");
            }
            if (waiting.size() >= options.maxQueue()) {
                throw new QueueFullException(retryAfterSeconds());
            }
            byte[] raw = new byte[12];
            ids.nextBytes(raw);
            Job job = new Job(HexFormat.of().formatHex(raw), spec);
            if (listed) {
                jobs.put(job.id(), job);
                forgetOldJobs();
            }
            waiting.add(job);
            return job;
        }
    }

    /** 429 with the seconds after which a retry is likely to be taken. */
    static final class QueueFullException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final long retryAfter;

        QueueFullException(long retryAfter) {
            super(null, null, false, false);
            this.retryAfter = retryAfter;
        }
    }

    private long retryAfterSeconds() {
        // A place frees up when the running edit ends: about one edit's time.
        return Math.max(1, (long) Math.ceil(meanEditSeconds));
    }

    /**
     * Cancels a job: one that waits leaves the queue at once; the running one stops at its next
     * step. False when it had already ended.
     */
    boolean cancel(Job job) {
        if (!job.cancel()) {
            return false;
        }
        if (waiting.remove(job)) {
            job.cancelled();
        }
        return true;
    }

    synchronized Job find(String id) {
        return jobs.get(id);
    }

    int waitingCount() {
        return waiting.size();
    }

    /** Edits that ran to the end since the start. */
    long editsDone() {
        return editsDone.get();
    }

    boolean busy() {
        return running != null;
    }

    private void forgetOldJobs() {
        int finished = 0;
        for (Job j : jobs.values()) {
            if (j.state().terminal()) {
                finished++;
            }
        }
        for (Iterator<Job> it = jobs.values().iterator(); it.hasNext() && finished > KEEP_FINISHED;) {
            if (it.next().state().terminal()) {
                it.remove();
                finished--;
            }
        }
    }

    private void work() {
        while (true) {
            Job job;
            try {
                job = waiting.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (job == null) {
                if (closed) {
                    return;
                }
                continue;
            }
            if (closed || job.cancelRequested()) {
                job.cancelled();
                continue;
            }
            running = job;
            try {
                run(job);
            } finally {
                running = null;
            }
        }
    }

    private void run(Job job) {
        long t0 = System.nanoTime();
        job.started();
        EditSpec spec = job.spec();
        try {
            EditRequest request = spec.request().listener((i, n, t, latents) -> {
                job.stepped(i + 1, n, t);
                return !job.cancelRequested() && !closed;
            }).build();
            EditResult result = pipeline.edit(request);
            ObjectNode json = answer(spec, request, result);
            editsDone.incrementAndGet();
            job.succeeded(json);
            double seconds = (System.nanoTime() - t0) / 1e9;
            meanEditSeconds = 0.7 * meanEditSeconds + 0.3 * seconds;
        } catch (EditCancelledException e) {
            job.cancelled();
        } catch (InvalidInputException | IllegalArgumentException e) {
            // A value the pipeline or the scheduler cannot take (their messages name it).
            job.failed(new ApiException(422, fieldOf(oneLine(e)), oneLine(e)));
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "edit " + job.id() + " failed", e);
            job.failed(new ApiException(500, null, "the edit failed inside the server: " + oneLine(e)));
            if (e instanceof Error err && !(e instanceof OutOfMemoryError)) {
                throw err;
            }
        }
    }

    /** The answer of POST /api/edit: PNGs exactly as {@code edit --output x.png} writes them. */
    private ObjectNode answer(EditSpec spec, EditRequest request, EditResult result) {
        String description = pipeline.models().description();
        EditProvenance provenance = new EditProvenance(options.software(), options.modelName(), description, spec.imageNames(), request,
                spec.seed(), options.safetyChecker());
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ArrayNode images = root.putArray("images");
        for (int i = 0; i < result.images().size(); i++) {
            images.add(Base64.getEncoder().encodeToString(ImageFiles.pngBytes(result.images().get(i), provenance.pngText(i))));
        }
        boolean[] nsfw = result.nsfwContentDetected().orElse(null);
        if (nsfw == null) {
            root.putNull("nsfw_content_detected");
        } else {
            ArrayNode flags = root.putArray("nsfw_content_detected");
            for (boolean b : nsfw) {
                flags.add(b);
            }
        }
        root.put("seed", spec.seed());
        root.set("parameters", provenance.parameters());
        Timings t = result.timings();
        ObjectNode timings = root.putObject("timings");
        timings.put("prompt_encoding_ms", t.promptMillis());
        timings.put("image_encoding_ms", t.encodeMillis());
        timings.put("steps", t.stepsMillis().length);
        timings.put("mean_step_ms", t.meanStepMillis());
        timings.put("decoding_ms", t.decodeMillis());
        timings.put("safety_checker_ms", t.safetyMillis());
        timings.put("total_ms", t.totalMillis());
        return root;
    }

    /** The form field a pipeline message is about: its messages start with the parameter's name. */
    static String fieldOf(String message) {
        String[][] names = {
            {"strength", "strength"}, {"numInferenceSteps", "num_inference_steps"}, {"guidanceScale", "guidance_scale"},
            {"sourceGuidanceScale", "source_guidance_scale"}, {"eta", "eta"}, {"numImagesPerPrompt", "num_images_per_prompt"},
            {"clipSkip", "clip_skip"}, {"sourcePrompt", "source_prompt"}, {"prompt", "prompt"}, {"image", "image"},
        };
        for (String[] n : names) {
            if (message.startsWith(n[0] + " ") || message.startsWith(n[0] + ":")) {
                return n[1];
            }
        }
        return message.contains("latent") || message.contains("image size") || message.contains("pixels") ? "image" : null;
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            m = e.getClass().getSimpleName();
        }
        return m.lines().findFirst().orElse(m);
    }

    /**
     * Stops taking work, cancels what waits, asks the running edit to stop at its next step and
     * waits for the worker, so the pipeline can be closed safely afterwards.
     */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        Job j;
        while ((j = waiting.poll()) != null) {
            j.cancel();
            j.cancelled();
        }
        Job r = running;
        if (r != null) {
            r.cancel();
        }
        try {
            worker.join(TimeUnit.MINUTES.toMillis(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (worker.isAlive()) {
            LOG.log(System.Logger.Level.WARNING, "the running edit did not stop within 2 minutes");
        }
    }

    boolean workerAlive() {
        return worker.isAlive();
    }
}
