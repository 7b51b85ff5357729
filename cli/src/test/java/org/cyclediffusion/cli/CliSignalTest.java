package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Ctrl-C, SIGTERM (and SIGHUP) at each phase of an edit, sent with kill(1) to the command line in its own
 * JVM when stderr shows the phase began: exit 130, 143 (129), one line saying so, no crash log, no
 * "Shutdown in progress", and the output folder exactly as it was.
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
                Arguments.of("loading model", "INT", "onnx"),
                Arguments.of("loading model", "INT", "libtorch"),
                Arguments.of("encoding prompts", "INT", "onnx"),
                Arguments.of("encoding image", "INT", "onnx"),
                Arguments.of("step 3/", "INT", "onnx"),
                Arguments.of("step 3/", "INT", "libtorch"),
                Arguments.of("decoding", "INT", "onnx"),
                Arguments.of("safety checker", "INT", "onnx"),
                Arguments.of("writing", "INT", "onnx"),
                Arguments.of("loading model", "TERM", "onnx"),
                Arguments.of("step 3/", "TERM", "onnx"),
                Arguments.of("writing", "TERM", "onnx"),
                Arguments.of("step 3/", "HUP", "onnx"));
    }

    @ParameterizedTest(name = "SIG{1} at ''{0}'' ({2})")
    @MethodSource("phases")
    void aSignalAtAnyPhaseEndsCleanly(String phase, String signal, String backend) throws IOException, InterruptedException {
        Path work = Files.createDirectory(tmp.resolve("work"));
        Path outDir = Files.createDirectory(tmp.resolve("out"));
        Path existing = Files.writeString(outDir.resolve("keep.txt"), "untouched");
        String model = Fixtures.model(backend.equals("onnx") ? "tiny-sd-onnx" : "tiny-sd").toString();
        boolean step = phase.startsWith("step");
        List<String> jvm = step ? List.of() : List.of("-Dcyclediffusion.debug.phasePauseMillis=1500");
        try (CliProcess p = CliProcess.start(work, jvm, "edit", "--model", model, "--backend", backend, "--image",
                Fixtures.image("img_a_64x64.png").toString(), "--source-prompt", "An astronaut riding a horse", "--prompt",
                "An astronaut riding an elephant", "--steps", step ? "400" : "10", "--strength", "1", "--guidance-scale", "2", "--seed", "0",
                "--num-images", "2", "--output", outDir.resolve("o.png").toString())) {
            assertTrue(p.awaitErrLine(l -> l.startsWith(phase), 240), "phase '" + phase + "' never began:\n" + p.err());
            p.signal(signal);
            CliProcess.Result r = p.await(240);
            int expected = switch (signal) {
                case "INT" -> 130;
                case "TERM" -> 143;
                default -> 129; // HUP
            };
            assertEquals(expected, r.code(), r.err());
            List<String> notes = r.err().lines().filter(l -> l.startsWith("cyclediffusion: interrupted")).toList();
            assertEquals(1, notes.size(), r.err());
            assertTrue(notes.get(0).contains("no output is written"), notes.get(0));
            assertFalse(r.err().contains("error:"), "no error line: " + r.err());
            assertFalse(r.err().contains("Shutdown in progress"), r.err());
            assertFalse(r.err().contains("A fatal error has been detected"), r.err());
        }
        try (Stream<Path> files = Files.list(work)) {
            assertEquals(List.of(), files.map(Path::getFileName).map(Path::toString).filter(n -> n.startsWith("hs_err")).toList(),
                    "no JVM crash log");
        }
        try (Stream<Path> files = Files.list(outDir)) {
            assertEquals(List.of(existing), files.toList(), "the output folder is as it was: no result, no staged file");
        }
        assertEquals("untouched", Files.readString(existing));
    }
}
