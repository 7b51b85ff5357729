package org.cyclediffusion.spark;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.cyclediffusion.core.batch.BatchEditor;
import org.cyclediffusion.core.batch.BatchItem;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.PipelineLoader;

/**
 * The pipeline of this executor JVM: loaded by the first task that needs it, kept for every later
 * partition (loading a model costs far more than an edit), closed when the JVM exits. Edits are
 * serialised: a pipeline runs one edit at a time, and on a CPU one edit already uses the cores
 * (set {@code spark.task.cpus} to the executor's cores so that Spark does not queue tasks behind
 * this lock).
 */
final class ExecutorPipeline {
    private static final System.Logger LOG = System.getLogger(ExecutorPipeline.class.getName());
    private static PipelineLoader.Options loaded;
    private static CycleDiffusionPipeline pipeline;
    private static BatchEditor editor;
    /** Two-model pipelines by target_model (source: --model), loaded when a row first names one. */
    private static final Map<String, CycleDiffusionPipeline> TWO_MODEL = new HashMap<>();
    private static boolean hooked;
    /** {@code --dtype auto} decided once per executor JVM and options (the cached decision, or a measurement on first use). */
    private static final Map<PipelineLoader.Options, PipelineLoader.Options> AUTO_DTYPE = new HashMap<>();

    private ExecutorPipeline() {
    }

    static synchronized BatchEditor.Edited edit(JobOptions options, String software, BatchItem item, String image, Supplier<RgbImage> input,
            long seed) {
        PipelineLoader.Options wanted = options.autoDType() ? autoDType(options.loaderOptions()) : options.loaderOptions();
        if (pipeline == null || !wanted.equals(loaded)) {
            close();
            pipeline = new PipelineLoader().load(wanted);
            loaded = wanted;
            // Rows run one by one as their partitions come: no plan, so no shared source halves here.
            editor = new BatchEditor(pipeline, target -> TWO_MODEL.computeIfAbsent(target,
                    t -> new PipelineLoader().load(wanted.withTargetModel(Path.of(t)))), software, options.model(), options.safetyChecker(), false);
            if (!hooked) {
                Runtime.getRuntime().addShutdownHook(new Thread(ExecutorPipeline::close, "cyclediffusion-pipeline-close"));
                hooked = true;
            }
        }
        return editor.edit(item, image, input, seed, null);
    }

    private static PipelineLoader.Options autoDType(PipelineLoader.Options options) {
        // the line goes to the executor's log: each machine may decide differently
        return AUTO_DTYPE.computeIfAbsent(options, o -> new PipelineLoader().withAutoDType(ModelFolder.open(o.model()), o,
                line -> LOG.log(System.Logger.Level.INFO, line)));
    }

    /** The parameters of a row as its PNGs would carry them (for a failed row's result), or null before any pipeline loaded. */
    static synchronized com.fasterxml.jackson.databind.node.ObjectNode parameters(BatchItem item, long seed) {
        return editor == null ? null : editor.parameters(item, seed);
    }

    static synchronized void close() {
        if (pipeline != null) {
            try {
                TWO_MODEL.values().forEach(CycleDiffusionPipeline::close);
                pipeline.close();
            } finally {
                TWO_MODEL.clear();
                pipeline = null;
                editor = null;
                loaded = null;
            }
        }
    }
}
