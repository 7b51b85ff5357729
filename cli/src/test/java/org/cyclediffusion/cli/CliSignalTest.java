package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.GoldenManifests;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Ctrl-C, SIGTERM (and SIGHUP) at each phase of an edit or an encode, sent with kill(1) to the command line in its own
 * JVM when stderr shows the phase began: exit 130, 143 (129), one line saying so, no crash log, no
 * "Shutdown in progress", and the output folder exactly as it was. A batch interrupted mid-way keeps
 * the items it finished and resumes to the folder an uninterrupted batch writes.
 *
 * <p>The tiny model runs each phase in milliseconds, so the child holds 1.5 s at the start of each
 * phase ({@code cyclediffusion.debug.phasePauseMillis}) and the signal arrives there; the loading
 * phase then creates its ONNX Runtime sessions with the signal pending, which is where the JVM used
 * to crash (ONNX Runtime's shutdown hook released its environment under {@code createSession}).
 * Denoising steps are not held: the signal lands in the middle of the steps' native calls.
 */
class CliSignalTest {
    @TempDir
    Path tmp;

    static Stream<Arguments> phases() {
        return Stream.of(
                Arguments.of("edit", "loading model", "INT", "onnx"),
                Arguments.of("edit", "loading model", "INT", "libtorch"),
                Arguments.of("edit", "encoding prompts", "INT", "onnx"),
                Arguments.of("edit", "encoding image", "INT", "onnx"),
                Arguments.of("edit", "step 3/", "INT", "onnx"),
                Arguments.of("edit", "step 3/", "INT", "libtorch"),
                Arguments.of("edit", "decoding", "INT", "onnx"),
                Arguments.of("edit", "safety checker", "INT", "onnx"),
                Arguments.of("edit", "writing", "INT", "onnx"),
                Arguments.of("edit", "loading model", "TERM", "onnx"),
                Arguments.of("edit", "step 3/", "TERM", "onnx"),
                Arguments.of("edit", "writing", "TERM", "onnx"),
                Arguments.of("edit", "step 3/", "HUP", "onnx"),
                // encode: never a code file, whole or partial, nor its staging or temporary file
                Arguments.of("encode", "loading model", "INT", "onnx"),
                Arguments.of("encode", "encoding image", "INT", "onnx"),
                Arguments.of("encode", "step 3/", "INT", "onnx"),
                Arguments.of("encode", "step 3/", "INT", "libtorch"),
                Arguments.of("encode", "writing", "TERM", "onnx"),
                Arguments.of("encode", "writing", "TERM", "libtorch"),
                Arguments.of("encode", "step 3/", "HUP", "onnx"));
    }

    @ParameterizedTest(name = "{0}: SIG{2} at ''{1}'' ({3})")
    @MethodSource("phases")
    void aSignalAtAnyPhaseEndsCleanly(String command, String phase, String signal, String backend) throws IOException, InterruptedException {
        Path outDir = Files.createDirectory(tmp.resolve("out"));
        List<String> args = new ArrayList<>(List.of(command, "--model", model(backend), "--backend", backend, "--image",
                Fixtures.image("img_a_64x64.png").toString(), "--source-prompt", "An astronaut riding a horse", "--steps",
                phase.startsWith("step") ? "400" : "10", "--strength", "1", "--seed", "0"));
        if (command.equals("edit")) {
            args.addAll(List.of("--prompt", "An astronaut riding an elephant", "--guidance-scale", "2", "--num-images", "2", "--output",
                    outDir.resolve("o.png").toString()));
        } else {
            args.addAll(List.of("--source-guidance-scale", "2", "--output", outDir.resolve("code.safetensors").toString()));
        }
        assertStopsCleanly(phase, signal, outDir, args.toArray(String[]::new));
    }

    private static String model(String backend) {
        return Fixtures.model(backend.equals("onnx") ? "tiny-sd-onnx" : "tiny-sd").toString();
    }

    private static int exitCode(String signal) {
        return switch (signal) {
            case "INT" -> 130;
            case "TERM" -> 143;
            default -> 129; // HUP
        };
    }

    /**
     * Runs the command line, sends {@code signal} once stderr shows {@code phase} began, and checks
     * the clean stop: the signal's exit code, one note, no error, no crash, and {@code outDir} as it
     * was (a file put there first is untouched, nothing else appears).
     */
    private void assertStopsCleanly(String phase, String signal, Path outDir, String... args) throws IOException, InterruptedException {
        Path work = Files.createDirectory(tmp.resolve("work"));
        Path existing = Files.writeString(outDir.resolve("keep.txt"), "untouched");
        boolean step = phase.startsWith("step");
        List<String> jvm = step ? List.of() : List.of("-Dcyclediffusion.debug.phasePauseMillis=1500");
        try (CliProcess p = CliProcess.start(work, jvm, args)) {
            assertTrue(p.awaitErrLine(l -> l.startsWith(phase), 240), "phase '" + phase + "' never began:\n" + p.err());
            p.signal(signal);
            CliProcess.Result r = p.await(240);
            assertEquals(exitCode(signal), r.code(), r.err());
            String note = assertOneNoteAndNoCrash(r, work);
            assertTrue(note.contains("no output is written"), note);
        }
        try (Stream<Path> files = Files.list(outDir)) {
            assertEquals(List.of(existing), files.toList(), "the output folder is as it was: no result, no staged file");
        }
        assertEquals("untouched", Files.readString(existing));
    }

    /** One "interrupted" line, no error line, no "Shutdown in progress", no JVM crash (message or hs_err file); returns the line. */
    private static String assertOneNoteAndNoCrash(CliProcess.Result r, Path work) throws IOException {
        List<String> notes = r.err().lines().filter(l -> l.startsWith("cyclediffusion: interrupted")).toList();
        assertEquals(1, notes.size(), r.err());
        assertFalse(r.err().contains("error:"), "no error line: " + r.err());
        assertFalse(r.err().contains("Shutdown in progress"), r.err());
        assertFalse(r.err().contains("A fatal error has been detected"), r.err());
        try (Stream<Path> files = Files.list(work)) {
            assertEquals(List.of(), files.map(Path::getFileName).map(Path::toString).filter(n -> n.startsWith("hs_err")).toList(),
                    "no JVM crash log");
        }
        return notes.get(0);
    }

    static Stream<Arguments> batchInterrupts() {
        return Stream.of(
                Arguments.of("INT", "onnx", false),
                Arguments.of("TERM", "onnx", true),
                Arguments.of("HUP", "libtorch", false));
    }

    /**
     * A batch stopped after its second item, in the middle of the third one's steps (or, with
     * {@code betweenItems}, in the pause before the third starts): the items that finished keep
     * their files and their results lines, nothing of the third is written (no PNG, no staged file,
     * no line), the note says how many finished and how to resume; {@code --resume} then runs the
     * rest, and the folder ends as an uninterrupted batch's: the same lines (ids, outputs,
     * parameters) and pixel-identical images.
     */
    @ParameterizedTest(name = "batch: SIG{0} ({1}, between items: {2})")
    @MethodSource("batchInterrupts")
    void anInterruptedBatchKeepsWhatFinishedAndResumes(String signal, String backend, boolean betweenItems) throws Exception {
        int items = 5;
        List<String> rows = new ArrayList<>();
        for (int i = 0; i < items; i++) {
            ObjectNode o = GoldenManifests.row("v01_basic", "item" + i, img -> Fixtures.image(img).toString());
            o.put("strength", 1.0);
            o.put("num_inference_steps", 100);
            o.put("seed", i); // distinct seeds: no two rows share a source half, so resumed rows run as they would have
            rows.add(o.toString());
        }
        Path manifest = Files.write(tmp.resolve("edits.jsonl"), rows);
        Path work = Files.createDirectory(tmp.resolve("work"));
        Path out = tmp.resolve("out");
        Path reference = tmp.resolve("reference");
        String[] batch = {"batch", "--model", model(backend), "--backend", backend, "--manifest", manifest.toString(), "--output-dir"};

        List<String> jvm = betweenItems ? List.of("-Dcyclediffusion.debug.phasePauseMillis=1500") : List.of();
        int recorded;
        try (CliProcess p = CliProcess.start(work, jvm, concat(batch, out.toString()))) {
            assertTrue(p.awaitErrLine(l -> l.startsWith("batch: [2/" + items + "]"), 240), "the second item never finished:\n" + p.err());
            p.signal(signal);
            CliProcess.Result r = p.await(240);
            assertEquals(exitCode(signal), r.code(), r.err());
            String note = assertOneNoteAndNoCrash(r, work);
            List<JsonNode> lines = BatchCommandTest.results(out);
            recorded = lines.size();
            System.out.println(note);
            assertTrue(recorded >= 2 && recorded < items, "stopped mid-batch: " + recorded + " items recorded\n" + r.err());
            assertTrue(note.contains("during item " + (recorded + 1) + "/" + items), note);
            assertTrue(note.contains(recorded + " of " + items + " items finished and are kept in " + out.resolve("results.jsonl")), note);
            assertTrue(note.endsWith("run the same command with --resume to do the other " + (items - recorded)), note);
            assertFalse(r.err().contains("succeeded"), "no summary besides the note: " + r.err());
            List<String> expected = new ArrayList<>(List.of("results.jsonl"));
            for (JsonNode l : lines) {
                assertEquals("ok", l.get("status").asText(), l.toString());
                expected.add(l.get("outputs").get(0).asText());
            }
            assertEquals(expected.stream().sorted().toList(), names(out), "the finished items' files only: no PNG of the stopped item, no staged file");
        }
        List<String> before = Files.readAllLines(out.resolve("results.jsonl"));

        CliProcess.Result resumed = CliProcess.run(work, concat(batch, out.toString(), "--resume"));
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.err().contains(recorded + " items already done"), resumed.err());
        CliProcess.Result whole = CliProcess.run(work, concat(batch, reference.toString(), "--quiet"));
        assertEquals(0, whole.code(), whole.err());

        List<String> after = Files.readAllLines(out.resolve("results.jsonl"));
        assertEquals(before, after.subList(0, before.size()), "the interrupted run's lines are kept as they were");
        assertEquals(names(reference), names(out));
        assertEquals(withoutTimes(BatchCommandTest.results(reference)), withoutTimes(BatchCommandTest.results(out)));
        for (String png : names(reference)) {
            if (png.endsWith(".png")) {
                assertEquals(0, GoldenManifests.maxAbsDiff(ImageFiles.read(reference.resolve(png)), ImageFiles.read(out.resolve(png))), png);
            }
        }
    }

    private static String[] concat(String[] head, String... tail) {
        List<String> all = new ArrayList<>(List.of(head));
        all.addAll(List.of(tail));
        return all.toArray(String[]::new);
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    /** The results lines by id, without what differs between any two runs (times, the finish time). */
    private static Map<String, JsonNode> withoutTimes(List<JsonNode> lines) {
        Map<String, JsonNode> byId = new TreeMap<>();
        for (JsonNode l : lines) {
            ObjectNode o = l.deepCopy();
            o.remove(List.of("elapsed_ms", "timings_ms", "finished_at"));
            byId.put(o.get("id").asText(), o);
        }
        return byId;
    }
}
