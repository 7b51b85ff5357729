package org.cyclediffusion.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.batch.ItemResult;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The batch of {@code cyclediffusion batch}, across Spark executors:
 * {@code spark-submit --class org.cyclediffusion.spark.BatchJob cyclediffusion-spark-onnx.jar
 * --model M --manifest edits.jsonl --output OUT}. Same manifest columns, same PNGs and metadata,
 * and a results table with the fields of {@code results.jsonl}. Rows already recorded as done
 * whose files exist are skipped, so a rerun after a failure does only what is left. Exit codes as
 * {@code batch}: 0 every row succeeded, 3 some failed, 2 bad arguments, 1 anything else.
 */
@Command(name = "cyclediffusion-spark", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Edit every row of a manifest (JSON lines or Parquet) across a Spark cluster.")
public final class BatchJob implements Callable<Integer> {
    static final int SOME_FAILED = 3;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Model folder as every executor sees it (shared file system, or unpacked from --archives).")
    String model;

    @Option(names = "--manifest", required = true, paramLabel = "URI", description = "JSON lines (.jsonl/.json/.ndjson) or Parquet, any Hadoop URI.")
    String manifest;

    @Option(names = "--output", required = true, paramLabel = "URI", description = "Folder for <id>-<k>.png and the results table, any Hadoop URI.")
    String output;

    @Option(names = "--backend", paramLabel = "NAME", description = "onnx or libtorch (default: chosen by the folder's files).")
    String backend;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEV", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--dtype", paramLabel = "T", description = "fp32, fp16, bf16, or auto (as edit --dtype auto, decided on each executor;"
            + " default: the backend's for the device).")
    String dtype;

    @Option(names = "--no-safety-checker", description = "Do not run the model's safety checker.")
    boolean noSafetyChecker;

    @Option(names = "--images", defaultValue = "path", paramLabel = "HOW",
            description = "path: each executor opens its images through the Hadoop file system; binaryFile: read with Spark's binaryFile source (default: ${DEFAULT-VALUE}).")
    String images;

    @Option(names = "--partitions", defaultValue = "0", description = "Partitions of the manifest (default: Spark's default parallelism).")
    int partitions;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master when not launched by spark-submit (e.g. local[*]).")
    String master;

    /** What a run did. */
    public record Summary(long succeeded, long failed, long skipped) {
        int exitCode() {
            return failed > 0 ? SOME_FAILED : 0;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new BatchJob()).setExecutionExceptionHandler((e, cl, parsed) -> {
            // One line naming what was wrong, as the CLI prints it; Spark's own log has the rest.
            cl.getErr().println("error: " + ItemResult.describe(e));
            return e instanceof IllegalArgumentException || e instanceof InvalidInputException ? 2 : 1;
        }).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        JobOptions options = options();
        SparkSession.Builder b = SparkSession.builder().appName("cyclediffusion batch");
        if (master != null) {
            b.master(master);
        }
        SparkSession spark = b.getOrCreate();
        try {
            Summary s = run(spark, options, new PrintWriter(System.err, true));
            return s.exitCode();
        } finally {
            spark.stop();
        }
    }

    JobOptions options() {
        String how = images.toLowerCase(Locale.ROOT);
        if (!how.equals("path") && !how.equals("binaryfile")) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--images " + images + ": expected path or binaryFile");
        }
        return new JobOptions(model, manifest, output, backend, device, dtype, !noSafetyChecker, how.equals("binaryfile"), partitions);
    }

    /** Runs the job on a session (the tests' {@code local[2]} one, or spark-submit's). */
    public static Summary run(SparkSession spark, JobOptions options, PrintWriter log) throws IOException {
        options.loaderOptions(); // --device and --dtype checked here, not by every row on the executors
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path manifestPath = new Path(options.manifest());
        FileSystem manifestFs = manifestPath.getFileSystem(hadoop);
        if (!manifestFs.exists(manifestPath)) {
            throw new IllegalArgumentException("--manifest " + options.manifest() + " does not exist");
        }
        Path manifestDir = manifestFs.makeQualified(manifestPath).getParent();
        Path out = new Path(options.output());
        FileSystem outFs = out.getFileSystem(hadoop);
        outFs.mkdirs(out);
        Path results = new Path(out, ResultTable.NAME);

        Dataset<Row> rows = lines(spark, manifestPath, manifestFs);
        // A repeated id: every row after the first of that id is recorded as failed.
        rows = rows.withColumn("id", functions.get_json_object(functions.col("json"), "$.id"))
                .withColumn("first_line", functions.when(functions.col("id").isNotNull()
                        .and(functions.row_number().over(Window.partitionBy("id").orderBy("line")).gt(1)),
                        functions.min("line").over(Window.partitionBy("id"))).otherwise(functions.lit(null).cast(DataTypes.LongType)));

        Set<String> done = done(spark, outFs, out, results);
        long total = rows.count();
        if (!done.isEmpty()) {
            Dataset<Row> doneIds = spark.createDataset(new ArrayList<>(done), Encoders.STRING()).toDF("id");
            rows = rows.filter(functions.col("first_line").isNotNull())
                    .unionByName(rows.filter(functions.col("first_line").isNull()).join(doneIds, rows.col("id").equalTo(doneIds.col("id")),
                            "left_anti"));
        }
        if (options.binaryFile()) {
            rows = withImageBytes(spark, rows, manifestDir, manifestFs);
        }
        int n = options.partitions() > 0 ? options.partitions() : spark.sparkContext().defaultParallelism();
        rows = rows.repartition(n);

        Map<String, String> conf = new HashMap<>();
        hadoop.forEach(e -> conf.put(e.getKey(), e.getValue()));
        LongAccumulator succeeded = spark.sparkContext().longAccumulator("succeeded");
        LongAccumulator failed = spark.sparkContext().longAccumulator("failed");
        String software = "cyclediffusion " + version();
        JavaRDD<Row> edited = rows.toJavaRDD().mapPartitions(new PartitionEditor(options, software, manifestDir.toString(), conf, succeeded,
                failed));
        spark.createDataFrame(edited, ResultTable.SCHEMA).write().mode(SaveMode.Append).parquet(results.toString());

        Summary s = new Summary(succeeded.value(), failed.value(), total - succeeded.value() - failed.value());
        log.println("cyclediffusion-spark: " + s.succeeded() + " succeeded, " + s.failed() + " failed, " + s.skipped() + " already done;"
                + " results in " + results);
        return s;
    }

    /** The manifest as (line, json): JSON lines as they are, Parquet rows as JSON text (the same parser checks both). */
    private static Dataset<Row> lines(SparkSession spark, Path manifest, FileSystem fs) throws IOException {
        String name = manifest.getName().toLowerCase(Locale.ROOT);
        boolean parquet = name.endsWith(".parquet") || fs.getFileStatus(manifest).isDirectory();
        JavaRDD<Row> lines;
        if (parquet) {
            lines = spark.read().parquet(manifest.toString()).toJavaRDD().zipWithIndex()
                    .map(t -> RowFactory.create(t._2() + 1, t._1().json()));
        } else if (name.endsWith(".jsonl") || name.endsWith(".json") || name.endsWith(".ndjson")) {
            lines = spark.read().text(manifest.toString()).toJavaRDD().zipWithIndex()
                    .filter(t -> !t._1().getString(0).isBlank())
                    .map(t -> RowFactory.create(t._2() + 1, t._1().getString(0)));
        } else {
            throw new IllegalArgumentException("--manifest " + manifest + ": expected JSON lines (.jsonl, .json, .ndjson) or Parquet (.parquet or a folder)");
        }
        StructType schema = new StructType().add("line", DataTypes.LongType, false).add("json", DataTypes.StringType, false);
        return spark.createDataFrame(lines, schema);
    }

    /**
     * Ids whose last recorded result succeeded and whose outputs all exist: a rerun skips them. The
     * output folder is listed once rather than asked about file by file.
     */
    private static Set<String> done(SparkSession spark, FileSystem fs, Path out, Path results) throws IOException {
        if (!fs.exists(results)) {
            return Set.of();
        }
        Set<String> present = new HashSet<>();
        for (FileStatus f : fs.listStatus(out)) {
            present.add(f.getPath().getName());
        }
        Dataset<Row> last = spark.read().parquet(results.toString())
                .withColumn("rank", functions.row_number().over(Window.partitionBy("id").orderBy(functions.col("finished_at").desc())))
                .filter("rank = 1 AND status = 'ok' AND id IS NOT NULL").select("id", "outputs");
        Set<String> done = new HashSet<>();
        for (Row r : last.collectAsList()) {
            List<String> outputs = r.getList(1);
            if (!outputs.isEmpty() && present.containsAll(outputs)) {
                done.add(r.getString(0));
            }
        }
        return done;
    }

    /** Joins each row with its image's bytes read by Spark's binaryFile source (content null when the file is missing). */
    private static Dataset<Row> withImageBytes(SparkSession spark, Dataset<Row> rows, Path manifestDir, FileSystem fs) {
        Dataset<Row> withImage = rows.withColumn("image", functions.get_json_object(functions.col("json"), "$.image"));
        List<String> images = withImage.select("image").distinct().filter("image IS NOT NULL").as(Encoders.STRING()).collectAsList();
        List<Row> mapping = new ArrayList<>();
        List<String> paths = new ArrayList<>();
        for (String image : images) {
            Path p = fs.makeQualified(new Path(manifestDir, image));
            mapping.add(RowFactory.create(image, p.toString()));
            try {
                if (fs.exists(p)) {
                    paths.add(p.toString());
                }
            } catch (IOException e) {
                // Left out: the row fails with "does not exist" and its own message.
            }
        }
        StructType mapSchema = new StructType().add("image", DataTypes.StringType, false).add("path", DataTypes.StringType, false);
        Dataset<Row> map = spark.createDataFrame(mapping, mapSchema);
        Dataset<Row> joined = withImage.join(map, withImage.col("image").equalTo(map.col("image")), "left")
                .drop(map.col("image"));
        if (paths.isEmpty()) {
            return joined.withColumn("content", functions.lit(null).cast(DataTypes.BinaryType));
        }
        Dataset<Row> bytes = spark.read().format("binaryFile").load(paths.toArray(String[]::new)).select("path", "content");
        return joined.join(bytes, joined.col("path").equalTo(bytes.col("path")), "left").drop(bytes.col("path"));
    }

    private static String version() {
        String v = BatchJob.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
