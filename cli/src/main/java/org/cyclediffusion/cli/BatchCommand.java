package org.cyclediffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import org.cyclediffusion.core.batch.BatchEditor;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.batch.BatchItem;
import org.cyclediffusion.core.batch.ItemResult;
import org.cyclediffusion.core.batch.Manifest;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.io.Closeables;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.spi.ProgressListener;
import org.cyclediffusion.core.tensor.FloatTensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cyclediffusion batch}: every row of a manifest edited with one loaded model. The whole
 * manifest is checked before the model loads; each finished item is recorded in
 * {@code OUT/results.jsonl} before the next starts, so {@code --resume} after a crash does the
 * remaining work exactly once. Ctrl-C, SIGTERM or SIGHUP stop it between items or at the running
 * item's next step ({@link Interrupts}): the finished items stay, the running one leaves nothing,
 * and one line says how many finished and how to resume. Exit codes: 0 every item succeeded, 3
 * some failed (or invalid rows were skipped), 2 the manifest or a flag is invalid (nothing ran),
 * 1 anything else; 130, 143, 129 interrupted.
 */
@Command(name = "batch", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Edit every row of a manifest (JSON lines or CSV) with one loaded model.",
            "Columns: id, image (relative to the manifest's folder), prompt, source_prompt, and optionally strength,"
                    + " num_inference_steps, guidance_scale, source_guidance_scale, eta, seed, num_images_per_prompt, clip_skip.",
            "Writes OUT/<id>-<k>.png and OUT/results.jsonl. Exit codes: 0 all succeeded, 3 some failed, 2 invalid manifest or flags,"
                    + " 1 other failure."})
final class BatchCommand implements Callable<Integer> {
    /** Exit code when the batch ran but not every item succeeded. */
    static final int SOME_FAILED = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** The --model forms of edit (folder, single file, hub id) and their refining flags. */
    @CommandLine.Mixin
    ModelOptions modelOptions;

    @Option(names = "--manifest", required = true, paramLabel = "FILE", description = "edits.jsonl (one JSON object per line) or edits.csv (a header row).")
    Path manifest;

    @Option(names = "--output-dir", required = true, paramLabel = "OUT", description = "Folder for <id>-<k>.png and results.jsonl (created if missing).")
    Path outputDir;

    @Option(names = "--resume", description = "Continue a batch: skip the ids recorded as done in OUT/results.jsonl whose files exist.")
    boolean resume;

    @Option(names = "--fail-fast", description = "Stop at the first failing item (default: record it and go on).")
    boolean failFast;

    @Option(names = "--skip-invalid", description = "Run the valid rows of a manifest that has invalid ones (they are listed and skipped).")
    boolean skipInvalid;

    @Option(names = "--no-shared-source", description = "Run every row whole, even rows that could share one encode (same image,"
            + " source prompt, seed and encode parameters).")
    boolean noSharedSource;

    @Option(names = "--no-safety-checker", description = "Do not run the model's safety checker (a warning is printed).")
    boolean noSafetyChecker;

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;


    /** Rows that decoded a latent code encoded once for several rows. */
    private int sharedSourceRows;

    /** Items this run recorded in the log (and of them, succeeded); counted inside the commit, read by the interrupt's note. */
    private final AtomicInteger recorded = new AtomicInteger();
    private final AtomicInteger recordedOk = new AtomicInteger();

    @Override
    public Integer call() throws IOException {
        Interrupts interrupts = Interrupts.get();
        interrupts.begin();
        try {
            return batch(interrupts);
        } finally {
            interrupts.end();
        }
    }

    private int batch(Interrupts interrupts) throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Device dev = modelOptions.device();
        DType dt = modelOptions.dtype();

        Manifest m = Manifest.read(manifest);
        List<Manifest.Problem> problems = new ArrayList<>(m.problems());
        List<BatchItem> valid = withoutOutputsOverInputs(m, problems);
        if (!problems.isEmpty()) {
            for (Manifest.Problem p : problems) {
                err.println(manifest + ":" + p.line() + ": " + p.message());
            }
            long bad = problems.stream().mapToInt(Manifest.Problem::line).distinct().count();
            if (!skipInvalid) {
                err.println("error: " + bad + " of " + m.rows() + " manifest rows are invalid; nothing was run"
                        + " (fix them, or pass --skip-invalid to run the " + valid.size() + " valid rows)");
                return Main.USAGE;
            }
            err.println("warning: skipping " + bad + " invalid rows of " + m.rows() + " (--skip-invalid)");
        }

        Files.createDirectories(outputDir);
        int failed = 0;
        int succeeded = 0;
        int skipped = 0;
        // Listed on stdout at the end: lines printed while a progress bar redraws stderr on the same terminal would tear it.
        List<Path> written = new ArrayList<>();
        try (ResultsLog log = ResultsLog.open(outputDir, resume)) {
            List<BatchItem> todo = new ArrayList<>();
            for (BatchItem item : valid) {
                ItemResult previous = log.previous().get(item.id());
                if (done(previous)) {
                    skipped++;
                    List<String> changed = changed(previous, item);
                    if (!changed.isEmpty()) {
                        err.println("warning: " + manifest + ":" + item.line() + ": " + item.id() + " is done in " + log.file() + " with other "
                                + String.join(", ", changed) + "; it is not redone (delete its output files to redo it)");
                    }
                } else {
                    todo.add(item);
                }
            }
            if (skipped > 0 && !quiet) {
                err.println("batch: " + skipped + " items already done in " + log.file() + " (--resume), " + todo.size() + " to run");
            }
            int toRun = todo.size();
            interrupts.outcome(() -> interrupted(toRun, log.file()));
            if (!todo.isEmpty()) {
                interrupts.phase("loading the model");
                interrupts.pause();
                ModelFolder folder = modelOptions.source.resolve(modelOptions.backend, !noSafetyChecker, err, quiet);
                PipelineLoader.Options options = modelOptions.withAutoDType(
                        new PipelineLoader.Options(folder.root(), modelOptions.backend, dev, dt, !noSafetyChecker), folder, err);
                // Rows with a target_model run on a two-model pipeline (source: --model), loaded when first needed.
                Map<String, CycleDiffusionPipeline> twoModel = new HashMap<>();
                try (CycleDiffusionPipeline pipeline = new PipelineLoader().load(folder, options);
                        BatchProgress progress = BatchProgress.create(quiet, todo.size(), err)) {
                    interrupts.check();
                    BatchEditor editor = new BatchEditor(pipeline,
                            target -> twoModel.computeIfAbsent(target, t -> new PipelineLoader().load(folder,
                                    modelOptions.source.resolveTarget(t, null, "target_model", modelOptions.backend, !noSafetyChecker, err, quiet), options)),
                            "cyclediffusion " + Versions.version(), modelOptions.source.model, !noSafetyChecker, !noSharedSource);
                    todo = editor.plan(todo, item -> m.imagePath(item).toString());
                    try {
                        for (int i = 0; i < todo.size(); i++) {
                            BatchItem item = todo.get(i);
                            String where = "item " + (i + 1) + "/" + todo.size() + " (" + item.id() + ")";
                            interrupts.phase(where);
                            interrupts.pause();
                            progress.started(i, item);
                            ItemResult r = run(editor, m, item, progress, log, interrupts, where);
                            progress.finished(r);
                            if (r.ok()) {
                                succeeded++;
                                r.outputs().forEach(o -> written.add(outputDir.resolve(o)));
                            } else {
                                failed++;
                                if (failFast) {
                                    err.println("error: item " + item.id() + " (line " + item.line() + ") failed: " + r.error()
                                            + "; stopping (--fail-fast), " + (todo.size() - i - 1) + " items not run");
                                    break;
                                }
                            }
                        }
                    } finally {
                        Closeables.closeAll(twoModel.values());
                    }
                }
            }
        }
        written.forEach(out::println);
        out.flush();
        if (!quiet) {
            err.println("batch: " + succeeded + " succeeded, " + failed + " failed, " + skipped + " already done"
                    + (sharedSourceRows == 0 ? "" : ", " + sharedSourceRows + " decoded a shared source half")
                    + (problems.isEmpty() ? "" : ", " + problems.stream().mapToInt(Manifest.Problem::line).distinct().count() + " invalid skipped")
                    + "; results in " + outputDir.resolve(ResultsLog.NAME));
        }
        return failed > 0 || !problems.isEmpty() || succeeded + skipped < valid.size() ? SOME_FAILED : Main.OK;
    }

    /** Done: recorded as succeeded, and every output it recorded is still there. */
    private boolean done(ItemResult previous) {
        return previous != null && previous.ok() && !previous.outputs().isEmpty()
                && previous.outputs().stream().allMatch(o -> Files.isRegularFile(outputDir.resolve(o)));
    }

    /** The manifest fields whose value differs from what the earlier run recorded for the same id. */
    private static List<String> changed(ItemResult previous, BatchItem item) {
        List<String> changed = new ArrayList<>();
        JsonNode p = previous.parameters();
        if (p == null) {
            return changed;
        }
        check(changed, "image", p.path("images").path(0).asText(), item.image());
        check(changed, "prompt", p.path("prompts").path(0).asText(), item.prompt());
        check(changed, "source_prompt", p.path("source_prompts").path(0).asText(), item.sourcePrompt());
        check(changed, "strength", p.path("strength").asDouble(), item.strength());
        check(changed, "num_inference_steps", p.path("num_inference_steps").asInt(), item.numInferenceSteps());
        check(changed, "guidance_scale", p.path("guidance_scale").asDouble(), item.guidanceScale());
        check(changed, "source_guidance_scale", p.path("source_guidance_scale").asDouble(), item.sourceGuidanceScale());
        check(changed, "eta", p.path("eta").asDouble(), item.eta());
        check(changed, "num_images_per_prompt", p.path("num_images_per_prompt").asInt(), item.numImagesPerPrompt());
        check(changed, "clip_skip", p.hasNonNull("clip_skip") ? p.get("clip_skip").asInt() : null, item.clipSkip());
        if (item.seed() != null) {
            check(changed, "seed", p.path("seed").asLong(), item.seed());
        }
        return changed;
    }

    private static void check(List<String> changed, String field, Object recorded, Object now) {
        if (!Objects.equals(recorded, now)) {
            changed.add(field);
        }
    }

    /**
     * Reads the image, edits, stages the PNGs, then publishes them and appends the item's line to
     * the log as one commit: an interrupt comes before both or after both, so every line in the log
     * has its files and no file is there without its line. Any failure becomes the item's failed
     * result; an interrupt is no failure of the item and leaves it unrecorded, for --resume to run.
     */
    private ItemResult run(BatchEditor editor, Manifest m, BatchItem item, BatchProgress progress, ResultsLog log, Interrupts interrupts,
            String where) {
        long t0 = System.nanoTime();
        long seed = item.seed() != null ? item.seed() : new SecureRandom().nextLong() & 0xffffffffL;
        try (StagedFiles files = new StagedFiles()) {
            ItemResult r;
            boolean shared = false;
            try {
                Path image = m.imagePath(item);
                BatchEditor.Edited edited = editor.edit(item, image.toString(), () -> ImageFiles.read(image), seed,
                        listener(progress, interrupts, where));
                shared = edited.sharedSource();
                for (int k = 0; k < edited.images().size(); k++) {
                    ImageFiles.writePng(files.stage(outputDir.resolve(item.outputName(k))), edited.images().get(k), edited.pngText(k));
                }
                r = edited.succeeded((System.nanoTime() - t0) / 1e6);
            } catch (RuntimeException e) {
                if (interrupts.cancelled()) {
                    throw e;
                }
                if (modelOptions.verbose) {
                    e.printStackTrace(spec.commandLine().getErr());
                }
                r = ItemResult.failed(item, seed, (System.nanoTime() - t0) / 1e6, e, editor.parameters(item, seed));
            }
            ItemResult result = r;
            interrupts.commit(() -> {
                files.publish();
                log.append(result);
                recorded.incrementAndGet();
                if (result.ok()) {
                    recordedOk.incrementAndGet();
                }
            });
            if (shared) {
                sharedSourceRows++;
            }
            return result;
        }
    }

    /** The safe points of one item: each phase and step, named with the item for the interrupt's note. */
    private static ProgressListener listener(BatchProgress progress, Interrupts interrupts, String where) {
        return new ProgressListener() {
            @Override
            public boolean onStep(int step, int totalSteps, int timestep, FloatTensor latents) {
                interrupts.phase(where + " step " + (step + 1) + "/" + totalSteps);
                progress.step(step, totalSteps);
                return !interrupts.cancelled();
            }

            @Override
            public boolean onPhase(EditPhase phase) {
                interrupts.phase(where + " " + phase.description());
                return !interrupts.cancelled();
            }
        };
    }

    /** The end of the interrupt's note: what this run kept, and how to do the rest (asked once no item can be recorded any more). */
    private String interrupted(int toRun, Path logFile) {
        int left = toRun - recordedOk.get();
        String kept = recorded.get() + " of " + toRun + " items finished and are kept in " + logFile;
        return left == 0 ? kept + "; nothing is left to do"
                : kept + "; run the same command with --resume to do the other " + left;
    }

    /** Rows whose outputs would replace one of the manifest's input images are problems too (outputs never go over an input). */
    private List<BatchItem> withoutOutputsOverInputs(Manifest m, List<Manifest.Problem> problems) {
        Set<Path> inputs = new HashSet<>();
        for (BatchItem item : m.items()) {
            inputs.add(m.imagePath(item));
        }
        Path out = outputDir.toAbsolutePath().normalize();
        List<BatchItem> ok = new ArrayList<>();
        for (BatchItem item : m.items()) {
            String clash = null;
            for (int k = 0; k < item.numImagesPerPrompt() && clash == null; k++) {
                Path target = out.resolve(item.outputName(k));
                if (inputs.contains(target)) {
                    clash = target.toString();
                }
            }
            if (clash == null) {
                ok.add(item);
            } else {
                problems.add(new Manifest.Problem(item.line(), "output " + clash + " would replace an input image of this manifest;"
                        + " choose another --output-dir"));
            }
        }
        problems.sort(Comparator.comparingInt(Manifest.Problem::line));
        return ok;
    }
}
