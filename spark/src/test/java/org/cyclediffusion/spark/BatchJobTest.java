package org.cyclediffusion.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.cyclediffusion.cli.Main;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.GoldenManifests;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark job in {@code local[2]} (driver and two executor threads in this JVM) on the ONNX
 * tiny model: the images of {@code batch} and {@code edit}, failing rows recorded, reruns skip
 * what is done.
 */
@Timeout(600)
class BatchJobTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> CASES = List.of("v01_basic", "v02_no_cfg", "v03_cfg7p5_car", "v11_clip_skip1");
    private static SparkSession spark;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("cyclediffusion-test").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    private static String model() {
        return Fixtures.model("tiny-sd-onnx").toString();
    }

    /** The visible cases, a row that fails when it runs (70x60 on the ONNX export), an invalid row and a repeated id. */
    private Path manifest() throws IOException {
        Path images = tmp.resolve("images");
        Files.createDirectories(images);
        for (String img : List.of("img_a_64x64.png", "img_c_64x64.png", "img_e_70x60.png")) {
            Files.copy(Fixtures.image(img), images.resolve(img));
        }
        List<String> lines = new ArrayList<>();
        for (String c : CASES) {
            lines.add(GoldenManifests.row(c, c, img -> "images/" + img).toString());
        }
        lines.add(GoldenManifests.row("v10_resize_lanczos_70x60", "odd", img -> "images/" + img).toString());
        lines.add("{\"id\": \"bad\", \"image\": \"images/img_a_64x64.png\", \"prompt\": \"x\", \"source_prompt\": \"y\", \"strength\": 2}");
        lines.add(GoldenManifests.row("v02_no_cfg", "v01_basic", img -> "images/" + img).toString());
        Path m = tmp.resolve("edits.jsonl");
        Files.write(m, lines, StandardCharsets.UTF_8);
        return m;
    }

    private static JobOptions options(Path manifest, Path out, boolean binaryFile) {
        return new JobOptions(model(), manifest.toString(), out.toString(), "onnx", "cpu", null, true, binaryFile, 2);
    }

    private static Map<String, Row> last(Path out) {
        Map<String, Row> byId = new HashMap<>();
        for (Row r : spark.read().parquet(out.resolve("results").toString()).orderBy("finished_at").collectAsList()) {
            byId.put(r.getAs("id") + "@" + r.getAs("line"), r);
        }
        return byId;
    }

    private static int run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        System.out.print(err);
        return code;
    }

    private static ObjectNode comment(Path png) throws IOException {
        return (ObjectNode) JSON.readTree(ImageFiles.readPngText(png).get("Comment"));
    }

    @Test
    void sameImagesAsBatchAndEditFailuresRecordedRerunSkipsDone() throws IOException {
        Path m = manifest();
        Path out = tmp.resolve("spark-out");
        BatchJob.Summary s = BatchJob.run(spark, options(m, out, false), new PrintWriter(System.out, true));
        assertEquals(new BatchJob.Summary(4, 3, 0), s);

        List<Row> rows = spark.read().parquet(out.resolve("results").toString()).collectAsList();
        assertEquals(7, rows.size());
        Map<String, Row> byKey = last(out);
        Row odd = byKey.get("odd@5");
        assertEquals("failed", odd.getAs("status"));
        assertTrue(((String) odd.getAs("error")).length() > 0);
        assertTrue(((String) byKey.get("bad@6").getAs("error")).contains("strength = 2.0: expected a value in [0, 1]"));
        assertTrue(((String) byKey.get("v01_basic@7").getAs("error")).contains("id is already used on line 1"));

        // batch on the same manifest (its invalid rows skipped), and edit for the first case.
        Path batchOut = tmp.resolve("batch-out");
        assertEquals(3, run("batch", "--model", model(), "--backend", "onnx", "--manifest", m.toString(), "--output-dir", batchOut.toString(),
                "--skip-invalid", "--quiet"));
        for (String c : CASES) {
            Row r = byKey.get(c + "@" + (CASES.indexOf(c) + 1));
            assertEquals("ok", r.getAs("status"), c);
            assertNull(r.getAs("error"));
            int n = GoldenManifests.outputs(c);
            assertEquals(n, r.getList(r.fieldIndex("outputs")).size());
            for (int k = 0; k < n; k++) {
                Path sparkPng = out.resolve(c + "-" + k + ".png");
                Path batchPng = batchOut.resolve(c + "-" + k + ".png");
                assertEquals(0, GoldenManifests.maxAbsDiff(ImageFiles.read(sparkPng), ImageFiles.read(batchPng)), c + ": Spark and batch differ");
                assertEquals(comment(batchPng), comment(sparkPng), c + ": metadata");
                int worst = GoldenManifests.maxAbsDiff(ImageFiles.read(sparkPng), GoldenManifests.goldenPng(c, k));
                assertTrue(worst <= 2, c + ": " + worst + "/255 from diffusers");
                assertEquals(GoldenManifests.nsfw(c, k), r.getList(r.fieldIndex("nsfw")).get(k), c + " nsfw");
            }
        }
        Path edited = tmp.resolve("edit.png");
        ObjectNode row = GoldenManifests.row("v01_basic", "v01_basic", img -> Fixtures.image(img).toString());
        assertEquals(0, run("edit", "--model", model(), "--backend", "onnx", "--image", row.get("image").asText(), "--prompt",
                row.get("prompt").asText(), "--source-prompt", row.get("source_prompt").asText(), "--strength", row.get("strength").asText(),
                "--steps", row.get("num_inference_steps").asText(), "--guidance-scale", row.get("guidance_scale").asText(),
                "--source-guidance-scale", row.get("source_guidance_scale").asText(), "--eta", row.get("eta").asText(), "--seed",
                row.get("seed").asText(), "--quiet", "--output", edited.toString()));
        assertEquals(0, GoldenManifests.maxAbsDiff(ImageFiles.read(edited), ImageFiles.read(out.resolve("v01_basic-0.png"))));
        ObjectNode editComment = comment(edited);
        ObjectNode sparkComment = comment(out.resolve("v01_basic-0.png"));
        // per-row metadata names the row's image ("image"), the whole-request form lists them ("images")
        editComment.remove(List.of("images", "image"));
        sparkComment.remove(List.of("images", "image"));
        assertEquals(editComment, sparkComment, "the same parameters as edit writes (images are named as the user named them)");

        // Rerun: the done rows are skipped (their files untouched), the failed ones are tried again.
        Map<String, Object> inodes = new HashMap<>();
        for (String c : CASES) {
            inodes.put(c, Files.getAttribute(out.resolve(c + "-0.png"), "unix:ino"));
        }
        BatchJob.Summary again = BatchJob.run(spark, options(m, out, false), new PrintWriter(System.out, true));
        assertEquals(new BatchJob.Summary(0, 3, 4), again);
        assertEquals(10, spark.read().parquet(out.resolve("results").toString()).count());
        for (String c : CASES) {
            assertEquals(inodes.get(c), Files.getAttribute(out.resolve(c + "-0.png"), "unix:ino"), c + " was redone");
        }
    }

    @Test
    void parquetManifestWithBinaryFileImages() throws IOException {
        Path jsonl = manifest();
        Path parquet = tmp.resolve("edits.parquet");
        spark.read().json(jsonl.toString()).limit(2).coalesce(1).write().parquet(parquet.toString());
        Path out = tmp.resolve("out");
        BatchJob.Summary s = BatchJob.run(spark, new JobOptions(model(), parquet.toString(), out.toString(), "onnx", "cpu", "auto", true,
                true, 2), new PrintWriter(System.out, true));
        assertEquals(2, s.succeeded() + s.failed());
        assertEquals(0, s.failed());
        for (Row r : spark.read().parquet(out.resolve("results").toString()).collectAsList()) {
            String id = r.getAs("id");
            assertEquals("ok", r.getAs("status"), id + ": " + r.getAs("error"));
            int worst = GoldenManifests.maxAbsDiff(ImageFiles.read(out.resolve(id + "-0.png")), GoldenManifests.goldenPng(id, 0));
            assertTrue(worst <= 2, id + ": " + worst + "/255 from diffusers");
        }
    }
}
