package org.cyclediffusion.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.util.LongAccumulator;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.batch.BatchEditor;
import org.cyclediffusion.core.batch.BatchItem;
import org.cyclediffusion.core.batch.BatchItemParser;
import org.cyclediffusion.core.batch.ItemResult;
import org.cyclediffusion.core.batch.Manifest;
import org.cyclediffusion.core.image.RgbImage;

/**
 * Edits the rows of one partition on this executor's pipeline, one result row per manifest row,
 * lazily (a result leaves as soon as its row is done). A row that cannot be parsed, repeats an id,
 * or fails to run becomes a failed result; it never fails the task.
 *
 * <p>Input columns: {@code line} (long), {@code json} (the row as JSON text), {@code first_line}
 * (long, null unless the id was already used on that line), and with {@code binaryFile} images
 * {@code content} (binary, null when the image was not found).
 */
final class PartitionEditor implements FlatMapFunction<Iterator<Row>, Row> {
    private static final long serialVersionUID = 1L;

    private final JobOptions options;
    private final String software;
    private final String manifestDir;
    private final Map<String, String> hadoopConf;
    private final LongAccumulator succeeded;
    private final LongAccumulator failed;

    PartitionEditor(JobOptions options, String software, String manifestDir, Map<String, String> hadoopConf, LongAccumulator succeeded,
            LongAccumulator failed) {
        this.options = options;
        this.software = software;
        this.manifestDir = manifestDir;
        this.hadoopConf = hadoopConf;
        this.succeeded = succeeded;
        this.failed = failed;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) throws IOException {
        Configuration conf = new Configuration(false);
        hadoopConf.forEach(conf::set);
        Path out = new Path(options.output());
        FileSystem outFs = out.getFileSystem(conf);
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return rows.hasNext();
            }

            @Override
            public Row next() {
                ItemResult r = edit(rows.next(), conf, outFs, out);
                (r.ok() ? succeeded : failed).add(1);
                return ResultTable.row(r);
            }
        };
    }

    private ItemResult edit(Row row, Configuration conf, FileSystem outFs, Path out) {
        int line = (int) row.getLong(row.fieldIndex("line"));
        String json = row.getString(row.fieldIndex("json"));
        BatchItemParser.Parsed parsed = Manifest.parseJsonLine(line, json);
        List<String> problems = new ArrayList<>(parsed.problems());
        int first = row.fieldIndex("first_line");
        if (!row.isNullAt(first)) {
            problems.add("id is already used on line " + row.getLong(first) + " (ids must be unique: they name the outputs)");
        }
        if (!problems.isEmpty()) {
            return ItemResult.invalid(rawId(json), line, parsed.item().map(BatchItem::seed).orElse(null), problems);
        }
        BatchItem item = parsed.item().orElseThrow();
        long seed = item.seed() != null ? item.seed() : new SecureRandom().nextLong() & 0xffffffffL;
        long t0 = System.nanoTime();
        try {
            Path imagePath = new Path(new Path(manifestDir), item.image());
            byte[] bytes;
            if (options.binaryFile()) {
                int c = row.fieldIndex("content");
                if (row.isNullAt(c)) {
                    throw new InvalidInputException("image file " + imagePath + " does not exist");
                }
                bytes = (byte[]) row.get(c);
            } else {
                FileSystem inFs = imagePath.getFileSystem(conf);
                if (!inFs.exists(imagePath)) {
                    throw new InvalidInputException("image file " + imagePath + " does not exist");
                }
                bytes = HadoopFiles.readAll(inFs, imagePath);
            }
            RgbImage image = HadoopFiles.decode(bytes, imagePath.toString());
            BatchEditor.Edited edited = ExecutorPipeline.edit(options, software, item, imagePath.toString(), () -> image, seed);
            for (int k = 0; k < edited.images().size(); k++) {
                HadoopFiles.writePng(outFs, out, item.outputName(k), edited.images().get(k), edited.pngText(k));
            }
            return edited.succeeded((System.nanoTime() - t0) / 1e6);
        } catch (IOException | RuntimeException e) {
            return ItemResult.failed(item, seed, (System.nanoTime() - t0) / 1e6, e, ExecutorPipeline.parameters(item, seed));
        }
    }

    /** The id as written, for the result of a row too malformed to parse (null when there is none). */
    private static String rawId(String json) {
        try {
            JsonNode id = new ObjectMapper().readTree(json).get("id");
            return id == null || id.isNull() ? null : id.asText();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
