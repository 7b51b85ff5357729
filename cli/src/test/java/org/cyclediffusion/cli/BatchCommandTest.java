package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.GoldenManifests;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code cyclediffusion batch}: goldens through a manifest, validation, failures, resume. */
class BatchCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static Path model(String backend) {
        return Fixtures.model(backend.equals("onnx") ? "tiny-sd-onnx" : "tiny-sd");
    }

    /** The manifest's images sit in an images/ folder beside it and are named relative to it. */
    private Path manifest(String name, List<String> lines) throws IOException {
        Path images = tmp.resolve("images");
        Files.createDirectories(images);
        for (String img : List.of("img_a_64x64.png", "img_b_96x64.png", "img_c_64x64.png", "img_d_80x56.png", "img_e_70x60.png")) {
            if (!Files.exists(images.resolve(img))) {
                Files.copy(Fixtures.image(img), images.resolve(img));
            }
        }
        Path m = tmp.resolve(name);
        Files.write(m, lines, StandardCharsets.UTF_8);
        return m;
    }

    private static String row(String caseId, String id) {
        return GoldenManifests.row(caseId, id, img -> "images/" + img).toString();
    }

    static List<JsonNode> results(Path out) throws IOException {
        List<JsonNode> r = new ArrayList<>();
        for (String l : Files.readAllLines(out.resolve("results.jsonl"))) {
            r.add(JSON.readTree(l));
        }
        return r;
    }

    private static CliTest.Run batch(Path model, Path manifest, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("batch", "--model", model.toString(), "--manifest", manifest.toString(), "--output-dir",
                out.toString()));
        a.addAll(List.of(extra));
        return CliTest.run(a.toArray(String[]::new));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"onnx", "libtorch"})
    void reproducesTheVisibleGoldens(String backend) throws IOException {
        List<String> cases = GoldenManifests.singleRowCases(backend);
        List<String> lines = new ArrayList<>();
        for (String c : cases) {
            lines.add(row(c, c));
        }
        Path out = tmp.resolve("out");
        CliTest.Run r = batch(model(backend), manifest("edits.jsonl", lines), out, "--backend", backend);
        assertEquals(0, r.code(), r.err());
        List<JsonNode> results = results(out);
        assertEquals(cases.size(), results.size());
        for (int i = 0; i < cases.size(); i++) {
            String c = cases.get(i);
            JsonNode res = results.get(i);
            assertEquals(c, res.get("id").asText());
            assertEquals("ok", res.get("status").asText(), res.toString());
            assertEquals(i + 1, res.get("line").asInt());
            int n = GoldenManifests.outputs(c);
            assertEquals(n, res.get("outputs").size());
            for (int k = 0; k < n; k++) {
                assertEquals(c + "-" + k + ".png", res.get("outputs").get(k).asText());
                int worst = GoldenManifests.maxAbsDiff(ImageFiles.read(out.resolve(c + "-" + k + ".png")), GoldenManifests.goldenPng(c, k));
                System.out.printf("batch %s on %s, image %d: max |d| %d/255%n", c, backend, k, worst);
                assertTrue(worst <= 2, c + " image " + k + " on " + backend + ": PNG differs by " + worst + "/255");
                assertEquals(GoldenManifests.nsfw(c, k), res.get("nsfw").get(k).asBoolean(), c + " nsfw flag " + k);
            }
            assertEquals(JSON.readTree(lines.get(i)).get("seed").asLong(), res.get("seed").asLong());
            assertTrue(res.get("timings_ms").get("total").asDouble() > 0);
            assertTrue(res.get("error").isNull());
        }
        // The same metadata as edit writes: EditProvenance's parameters, with the image as the manifest names it.
        Map<String, String> text = ImageFiles.readPngText(out.resolve("v01_basic-0.png"));
        JsonNode comment = JSON.readTree(text.get("Comment"));
        // each PNG describes its own row (issue 9): its image, prompt pair and index, with the batch's shared arguments
        JsonNode shared = results.get(0).get("parameters");
        for (String f : new String[] {"model", "backend", "strength", "guidance_scale", "eta", "seed", "safety_checker"}) {
            assertEquals(shared.get(f), comment.get(f), f);
        }
        assertEquals(shared.get("prompts").get(0), comment.get("prompt"));
        assertEquals(0, comment.get("index").asInt());
        assertEquals("images/img_a_64x64.png", comment.get("image").asText());
        assertEquals(20, comment.get("num_inference_steps").asInt());
        assertTrue(text.get("Software").startsWith("cyclediffusion "), text.toString());
        try (Stream<Path> files = Files.list(out)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary files left");
        }
    }

    /** Two-model translation per row: the source chain on --model, the target chain on the row's target_model (golden w01). */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"onnx", "libtorch"})
    void aRowWithATargetModelTranslatesBetweenModels(String backend) throws IOException {
        ObjectNode w01 = GoldenManifests.row("w01_two_models_cfg", "w01", img -> "images/" + img);
        w01.put("target_model", Fixtures.model(backend.equals("onnx") ? "tiny-sd-b-onnx" : "tiny-sd-b").toString());
        Path out = tmp.resolve("out");
        CliTest.Run r = batch(model(backend), manifest("edits.jsonl", List.of(row("v01_basic", "one"), w01.toString())), out, "--backend",
                backend, "--quiet");
        assertEquals(0, r.code(), r.err());
        int worst = GoldenManifests.maxAbsDiff(ImageFiles.read(out.resolve("w01-0.png")), GoldenManifests.goldenPng("w01_two_models_cfg", 0));
        System.out.printf("batch w01 (two models) on %s: max |d| %d/255%n", backend, worst);
        assertTrue(worst <= 2, "w01 on " + backend + ": " + worst + "/255");
        assertTrue(GoldenManifests.maxAbsDiff(ImageFiles.read(out.resolve("one-0.png")), GoldenManifests.goldenPng("v01_basic", 0)) <= 2);
        JsonNode comment = JSON.readTree(ImageFiles.readPngText(out.resolve("w01-0.png")).get("Comment"));
        assertEquals(w01.get("target_model").asText(), comment.get("target_model").asText(), comment.toString());
        assertFalse(comment.get("model").asText().contains("tiny-sd-b"), comment.toString());
    }

    /**
     * Rows with the same image, source prompt, seed and encode parameters share one encode: the
     * golden row still gives diffusers' image, and every row the image of its own separate edit
     * (to the 8-bit rounding of a UNet batch of 2 instead of 4).
     */
    @Test
    void rowsSharingASourceHalfEncodeOnce() throws IOException {
        List<String> lines = new ArrayList<>();
        for (String prompt : List.of("An astronaut riding an elephant", "An astronaut riding a camel", "An astronaut riding a zebra",
                "A robot riding a horse")) {
            ObjectNode o = GoldenManifests.row("v01_basic", prompt.contains("elephant") ? "v01_basic" : prompt.replaceAll("\\W+", "_"),
                    img -> "images/" + img);
            o.put("prompt", prompt);
            lines.add(o.toString());
        }
        Path m = manifest("edits.jsonl", lines);
        long t0 = System.nanoTime();
        Path shared = tmp.resolve("shared");
        CliTest.Run a = batch(model("onnx"), m, shared, "--backend", "onnx");
        long t1 = System.nanoTime();
        Path separate = tmp.resolve("separate");
        CliTest.Run b = batch(model("onnx"), m, separate, "--backend", "onnx", "--quiet", "--no-shared-source");
        long t2 = System.nanoTime();
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        assertTrue(a.err().contains("4 decoded a shared source half"), a.err());
        System.out.printf("4 rows of one source: shared %.1f s, separate %.1f s (one process each, model load included)%n", (t1 - t0) / 1e9,
                (t2 - t1) / 1e9);
        assertTrue(GoldenManifests.maxAbsDiff(ImageFiles.read(shared.resolve("v01_basic-0.png")), GoldenManifests.goldenPng("v01_basic", 0)) <= 2);
        for (JsonNode r : results(shared)) {
            String png = r.get("outputs").get(0).asText();
            int d = GoldenManifests.maxAbsDiff(ImageFiles.read(shared.resolve(png)), ImageFiles.read(separate.resolve(png)));
            assertTrue(d <= 2, png + ": shared and separate differ by " + d + "/255");
        }
    }

    @Test
    void csvManifestGivesTheSameImageAsJsonLines() throws IOException {
        ObjectNode o = GoldenManifests.row("v03_cfg7p5_car", "car", img -> "images/" + img);
        List<String> cols = new ArrayList<>();
        List<String> vals = new ArrayList<>();
        o.fields().forEachRemaining(e -> {
            cols.add(e.getKey());
            vals.add("\"" + e.getValue().asText().replace("\"", "\"\"") + "\"");
        });
        Path out = tmp.resolve("out");
        CliTest.Run r = batch(model("onnx"), manifest("edits.csv", List.of(String.join(",", cols), String.join(",", vals))), out, "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(GoldenManifests.maxAbsDiff(ImageFiles.read(out.resolve("car-0.png")), GoldenManifests.goldenPng("v03_cfg7p5_car", 0)) <= 2);
        assertEquals(out.resolve("car-0.png").toString(), r.out().trim());
    }

    @Test
    void everyBadLineIsReportedAtOnceAndNothingRuns() throws IOException {
        Path m = manifest("edits.jsonl", List.of(
                row("v01_basic", "good"),
                "{\"id\": \"a\", \"image\": \"images/img_a_64x64.png\", \"prompt\": \"x\", \"source_prompt\": \"y\", \"strength\": 1.5}",
                "{\"id\": \"b\", \"image\": \"images/img_a_64x64.png\", \"source_prompt\": \"y\", \"stength\": 0.5}",
                "{\"id\": \"c\", \"image\": \"images/missing.png\", \"prompt\": \"x\", \"source_prompt\": \"y\"}",
                "",
                "{\"id\": \"good\", \"image\": \"images/img_a_64x64.png\", \"prompt\": \"x\", \"source_prompt\": \"y\"}",
                "{\"id\": \"../up\", \"image\": \"images/img_a_64x64.png\", \"prompt\": \"x\", \"source_prompt\": \"y\", \"eta\": 0}",
                "{\"id\": \"e\", \"image\": \"images/img_a_64x64.png\", \"prompt\": 3, \"source_prompt\": \"y\", \"num_inference_steps\": 2.5}",
                "not json",
                "{\"id\": \"f\", \"image\": \"images/img_a_64x64.png\", \"prompt\": \"x\", \"source_prompt\": \"y\", \"target_model\": \"m\"}",
                "{\"id\": \"g\", \"image\": \"edits.jsonl\", \"prompt\": \"x\", \"source_prompt\": \"y\", \"seed\": \"7\"}"));
        Path out = tmp.resolve("out");
        CliTest.Run r = batch(model("onnx"), m, out);
        assertEquals(2, r.code(), r.err());
        String e = r.err();
        assertTrue(e.contains("edits.jsonl:2: strength = 1.5: expected a value in [0, 1]"), e);
        assertTrue(e.contains("edits.jsonl:3: unknown field \"stength\""), e);
        assertTrue(e.contains("edits.jsonl:3: missing required field \"prompt\""), e);
        assertTrue(e.contains("edits.jsonl:4: image: image file") && e.contains("missing.png does not exist"), e);
        assertTrue(e.contains("edits.jsonl:6: id \"good\" is already used on line 1"), e);
        assertTrue(e.contains("edits.jsonl:7: id \"../up\": expected a safe file-name stem"), e);
        assertTrue(e.contains("edits.jsonl:7: eta = 0.0"), e);
        assertTrue(e.contains("edits.jsonl:8: prompt: expected a string, found 3"), e);
        assertTrue(e.contains("edits.jsonl:8: num_inference_steps: expected an integer, found 2.5"), e);
        assertTrue(e.contains("edits.jsonl:9: not valid JSON"), e);
        assertTrue(e.contains("edits.jsonl:10: target_model: model folder m does not exist, and it is not a hub id"), e);
        assertTrue(e.contains("edits.jsonl:11: image: ") && e.contains("not a PNG, JPEG or WebP"), e);
        assertTrue(e.contains("edits.jsonl:11: seed: expected an integer, found \"7\""), e);
        assertTrue(e.contains("9 of 10 manifest rows are invalid; nothing was run"), e);
        assertFalse(e.contains("edits.jsonl:1:"), e);
        assertFalse(Files.exists(out), "nothing written, not even the output folder");
    }

    @Test
    void skipInvalidRunsTheValidRowsAndExitsThree() throws IOException {
        Path m = manifest("edits.jsonl", List.of(row("v02_no_cfg", "ok1"),
                "{\"id\": \"bad\", \"image\": \"images/img_a_64x64.png\", \"prompt\": \"x\", \"source_prompt\": \"y\", \"strength\": -1}"));
        Path out = tmp.resolve("out");
        CliTest.Run r = batch(model("onnx"), m, out, "--skip-invalid");
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("edits.jsonl:2: strength = -1.0"), r.err());
        List<JsonNode> res = results(out);
        assertEquals(1, res.size());
        assertEquals("ok1", res.get(0).get("id").asText());
    }

    @Test
    void aFailingItemIsRecordedAndTheBatchGoesOn() throws IOException {
        // 70x60 needs 8x7 latents; the ONNX export of tiny-sd takes only sides divisible by 4: fails when it runs.
        ObjectNode last = GoldenManifests.row("v02_no_cfg", "last", img -> "images/" + img);
        last.put("seed", 43); // not the source of "first": no shared encode pulls it ahead of "odd"
        Path m = manifest("edits.jsonl", List.of(row("v02_no_cfg", "first"), row("v10_resize_lanczos_70x60", "odd"), last.toString()));
        Path out = tmp.resolve("out");
        CliTest.Run r = batch(model("onnx"), m, out, "--backend", "onnx");
        assertEquals(3, r.code(), r.err());
        List<JsonNode> res = results(out);
        assertEquals(List.of("first", "odd", "last"), res.stream().map(j -> j.get("id").asText()).toList());
        assertEquals(List.of("ok", "failed", "ok"), res.stream().map(j -> j.get("status").asText()).toList());
        JsonNode failed = res.get(1);
        assertFalse(failed.get("error").asText().isBlank(), failed.toString());
        assertEquals(0, failed.get("outputs").size());
        assertEquals(2, failed.get("line").asInt());
        assertTrue(r.err().contains("1 failed"), r.err());
        assertFalse(Files.exists(out.resolve("odd-0.png")));

        Path out2 = tmp.resolve("out2");
        CliTest.Run ff = batch(model("onnx"), m, out2, "--backend", "onnx", "--fail-fast");
        assertEquals(3, ff.code(), ff.err());
        assertTrue(ff.err().contains("stopping (--fail-fast), 1 items not run"), ff.err());
        assertEquals(2, results(out2).size());
        assertFalse(Files.exists(out2.resolve("last-0.png")));
    }

    @Test
    void anEarlierBatchIsNotMixedInWithoutResume() throws IOException {
        Path m = manifest("edits.jsonl", List.of(row("v02_no_cfg", "one")));
        Path out = tmp.resolve("out");
        assertEquals(0, batch(model("onnx"), m, out, "--quiet").code());
        CliTest.Run again = batch(model("onnx"), m, out, "--quiet");
        assertEquals(2, again.code());
        assertTrue(again.err().contains("--resume"), again.err());
        CliTest.Run resumed = batch(model("onnx"), m, out, "--resume");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.err().contains("1 items already done"), resumed.err());
        assertFalse(resumed.err().contains("warning"), resumed.err());
        assertEquals(1, results(out).size());
        // The row changed since it was done: said, not silently skipped (and not redone).
        ObjectNode changed = GoldenManifests.row("v02_no_cfg", "one", img -> "images/" + img);
        changed.put("prompt", "A cat");
        changed.put("seed", 5);
        Files.write(m, List.of(changed.toString()));
        CliTest.Run stale = batch(model("onnx"), m, out, "--resume");
        assertEquals(0, stale.code(), stale.err());
        assertTrue(stale.err().contains("edits.jsonl:1: one is done in") && stale.err().contains("with other prompt, seed; it is not redone"),
                stale.err());
    }

    @Test
    void resumeDropsATornLastLineAndRedoesMissingFiles() throws IOException {
        Path m = manifest("edits.jsonl", List.of(row("v02_no_cfg", "a"), row("v02_no_cfg", "b"), row("v02_no_cfg", "c")));
        Path out = tmp.resolve("out");
        assertEquals(0, batch(model("onnx"), m, out, "--quiet").code());
        List<String> lines = Files.readAllLines(out.resolve("results.jsonl"));
        // A crash in the middle of c's line; b's image was lost afterwards.
        Files.writeString(out.resolve("results.jsonl"), lines.get(0) + "\n" + lines.get(1) + "\n" + lines.get(2).substring(0, 30));
        Files.delete(out.resolve("b-0.png"));
        CliTest.Run r = batch(model("onnx"), m, out, "--resume");
        assertEquals(0, r.code(), r.err());
        List<String> ids = results(out).stream().map(j -> j.get("id").asText()).toList();
        assertEquals(List.of("a", "b", "b", "c"), ids);
        assertTrue(Files.exists(out.resolve("b-0.png")));
    }

    /**
     * A child JVM runs a batch and is killed with SIGKILL in the middle; --resume then does the
     * rest: every id is recorded as done exactly once, and the files of the items done before the
     * kill are not rewritten.
     */
    @Test
    void resumeAfterAKillLosesAndRedoesNothing() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            ObjectNode o = GoldenManifests.row("v01_basic", "item" + i, img -> "images/" + img);
            o.put("strength", 1.0);
            o.put("seed", i);
            lines.add(o.toString());
        }
        Path m = manifest("edits.jsonl", lines);
        Path out = tmp.resolve("out");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(java.toString(), "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                "org.cyclediffusion.cli.Main", "batch", "--model", model("onnx").toString(), "--backend", "onnx", "--manifest",
                m.toString(), "--output-dir", out.toString());
        pb.redirectError(tmp.resolve("child.err").toFile());
        pb.redirectOutput(tmp.resolve("child.out").toFile());
        Process child = pb.start();
        long deadline = System.nanoTime() + 180_000_000_000L;
        try {
            while (!Files.readString(tmp.resolve("child.err")).contains("batch: [2/8] item1 ok")) {
                assertTrue(child.isAlive(), "the child batch ended early: " + Files.readString(tmp.resolve("child.err")));
                assertTrue(System.nanoTime() < deadline, "the child batch made no progress in 3 minutes");
                Thread.sleep(10);
            }
            Thread.sleep(150); // into the third item
        } finally {
            child.destroyForcibly(); // SIGKILL on Linux: no shutdown hook, no flush
            child.waitFor();
        }
        assertNotEquals(0, child.exitValue());
        List<JsonNode> before = results(out);
        System.out.println("killed after " + before.size() + " of 8 items were recorded");
        assertTrue(before.size() >= 2 && before.size() < 8, "killed mid-batch: " + before.size() + " items recorded");
        Map<String, Object> inodes = new HashMap<>();
        for (JsonNode r : before) {
            Path png = out.resolve(r.get("outputs").get(0).asText());
            inodes.put(r.get("id").asText(), Files.getAttribute(png, "unix:ino"));
        }

        CliTest.Run resumed = batch(model("onnx"), m, out, "--backend", "onnx", "--resume");
        assertEquals(0, resumed.code(), resumed.err());
        List<JsonNode> after = results(out);
        Map<String, Long> counts = after.stream().collect(Collectors.groupingBy(j -> j.get("id").asText(), Collectors.counting()));
        assertEquals(8, counts.size(), counts.toString());
        assertTrue(counts.values().stream().allMatch(n -> n == 1), "each item recorded exactly once: " + counts);
        assertTrue(after.stream().allMatch(j -> j.get("status").asText().equals("ok")));
        assertEquals(before, after.subList(0, before.size()), "the lines of the killed run are kept as they were");
        for (Map.Entry<String, Object> e : inodes.entrySet()) {
            assertEquals(e.getValue(), Files.getAttribute(out.resolve(e.getKey() + "-0.png"), "unix:ino"), e.getKey() + " was redone");
        }
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(8, files.filter(p -> p.toString().endsWith(".png")).count());
        }
    }
}
