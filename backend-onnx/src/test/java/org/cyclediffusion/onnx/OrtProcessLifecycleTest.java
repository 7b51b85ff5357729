package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backend in a process of its own ({@link OrtLifecycleChild}), as the command line uses it
 * (issue 9): nothing left in the system temp folder, no crash when the JVM is stopped with SIGTERM
 * while sessions are created or run, and no raw ONNX Runtime log on stderr.
 */
class OrtProcessLifecycleTest {
    @TempDir
    Path dir;

    private Process start(String mode, String cache) throws IOException {
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(java.toString(), "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                "-Djava.io.tmpdir=" + tmp, "-Dcyclediffusion.fixtures=" + System.getProperty("cyclediffusion.fixtures"),
                OrtLifecycleChild.class.getName(), mode)
                .directory(dir.toFile())
                .redirectOutput(dir.resolve("stdout.txt").toFile())
                .redirectError(dir.resolve("stderr.txt").toFile());
        pb.environment().put(OrtModelCache.DIR_ENV, cache);
        pb.environment().remove(OrtRuntime.LOG_LEVEL_ENV);
        return pb.start();
    }

    private List<Path> ortTempFolders() throws IOException {
        try (Stream<Path> s = Files.list(dir.resolve("tmp"))) {
            return s.filter(p -> p.getFileName().toString().startsWith("onnxruntime-java")).toList();
        }
    }

    private List<Path> crashLogs() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("hs_err_pid")).toList();
        }
    }

    @Test
    void aRunLeavesNothingInTheTempFolder() throws Exception {
        Process p = start("once", dir.resolve("cache").toString());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve("stderr.txt")));
        assertEquals("ok", Files.readString(dir.resolve("stdout.txt")).strip());
        assertEquals(List.of(), ortTempFolders(), "ONNX Runtime's onnxruntime-java* library folder was deleted");
    }

    @Test
    void sigtermWhileSessionsAreCreatedOrRunNeverCrashes() throws Exception {
        // The cache is off so that every open optimises the graphs: the longest native calls.
        for (int round = 0; round < 6; round++) {
            Process p = start("loop", "off");
            waitForLine(p, "started");
            Thread.sleep(40L + 90L * round);
            p.destroy(); // SIGTERM: the JVM runs its shutdown hooks, ONNX Runtime's among them
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "round " + round + ": the JVM exits");
            String stderr = Files.readString(dir.resolve("stderr.txt"));
            assertEquals(143, p.exitValue(), "round " + round + ": " + stderr);
            assertFalse(stderr.contains("SIGSEGV") || stderr.contains("fatal error"), "round " + round + ": " + stderr);
            assertEquals(List.of(), crashLogs(), "round " + round);
            assertEquals(List.of(), ortTempFolders(), "round " + round);
        }
    }

    @Test
    void anAllocationFailureIsOneLineAndOnnxRuntimesLogStaysQuiet() throws Exception {
        Process p = start("oom", "off");
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        String stdout = Files.readString(dir.resolve("stdout.txt")).strip();
        String stderr = Files.readString(dir.resolve("stderr.txt"));
        assertEquals(0, p.exitValue(), stderr);
        assertTrue(stdout.startsWith("error: ") && stdout.contains("ran out of memory") && stdout.contains("smaller image")
                && stdout.lines().count() == 1, stdout);
        assertFalse(stderr.contains("Failed to allocate") || stderr.contains("\u001B["), "ONNX Runtime's own log reached stderr: " + stderr);
    }

    private void waitForLine(Process p, String line) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (Files.readString(dir.resolve("stdout.txt")).contains(line)) {
                return;
            }
            assertTrue(p.isAlive(), "the child ended early: " + Files.readString(dir.resolve("stderr.txt")));
            Thread.sleep(10);
        }
        throw new AssertionError("no '" + line + "' from the child");
    }
}
