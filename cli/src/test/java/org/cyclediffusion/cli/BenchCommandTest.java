package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.cli.CliTest.Run;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code bench} and {@code random-model} through the command line: usage errors name the flag, help documents every option, runs report every phase. */
class BenchCommandTest {
    @TempDir
    Path tmp;

    private static List<String> tiny(String... extra) {
        List<String> a = new ArrayList<>(List.of("bench", "--config", "libtorch=" + Fixtures.model("tiny-sd"), "--image",
                Fixtures.image("img_a_64x64.png").toString(), "--steps", "4", "--strength", "0.5", "--runs", "1", "--warmup", "0"));
        a.addAll(List.of(extra));
        return a;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"--runs, 0", "--runs, -3", "--warmup, -1", "--rounds, 0", "--size, 100", "--size, 0"})
    void badCountsAreUsageErrorsNamingTheFlag(String flag, String value) {
        Run r = CliTest.run("bench", "--config", "libtorch=" + Fixtures.model("tiny-sd"), flag, value);
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().startsWith("error: " + flag + " " + value + ": expected"), r.err());
        assertFalse(r.err().contains("Index") || r.err().contains("\tat "), r.err());
    }

    @Test
    void malformedConfigSaysWhatIsExpectedOnce() {
        Run r = CliTest.run("bench", "--config", "libtorch,fast", "--image", Fixtures.image("img_a_64x64.png").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--config 'libtorch,fast'") && r.err().contains("BACKEND[=DIR]"), r.err());
        assertFalse(r.err().contains("option option"), r.err());
        Run none = CliTest.run("bench", "--config", "libtorch", "--runs", "1");
        assertEquals(2, none.code(), none.err());
        assertTrue(none.err().contains("no model folder"), none.err());
        Run missing = CliTest.run("bench");
        assertEquals(2, missing.code(), missing.err());
        assertTrue(missing.err().contains("--config is required"), missing.err());
    }

    @Test
    void badDeviceAndDtypeNameTheFlag() {
        Run d = CliTest.run(tiny("--device", "tpu").toArray(String[]::new));
        assertEquals(2, d.code(), d.err());
        assertTrue(d.err().startsWith("error: --device"), d.err());
        Run t = CliTest.run(tiny("--dtype", "fp64").toArray(String[]::new));
        assertEquals(2, t.code(), t.err());
        assertTrue(t.err().startsWith("error: --dtype"), t.err());
    }

    @Test
    void helpDocumentsEveryOption() {
        Run r = CliTest.run("bench", "--help");
        assertEquals(0, r.code(), r.err());
        for (picocli.CommandLine.Model.OptionSpec o : new picocli.CommandLine(new BenchCommand()).getCommandSpec().options()) {
            if (!o.hidden()) {
                assertTrue(o.description().length > 0 && !o.description()[0].isBlank(), "undocumented option " + o.longestName());
                assertTrue(r.out().contains(o.longestName()), o.longestName() + " in help");
            }
        }
        for (String flag : List.of("--seed", "--eta", "--device", "--dtype", "--random-model", "--size", "--rounds", "--vae-tiling")) {
            assertTrue(r.out().contains(flag), flag + " in help");
        }
    }

    @Test
    void reportsEveryPhaseInProcessWithSeedEtaDeviceAndDtype() {
        Run r = CliTest.run(tiny("--in-process", "--seed", "3", "--eta", "0.3", "--device", "cpu", "--dtype", "fp32", "--size", "64",
                "--config", "libtorch=" + Fixtures.model("tiny-sd") + ",label=again").toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        for (String column : List.of("load s", "RSS load", "prompt ms", "VAE enc ms", "step ms", "VAE dec ms", "safety ms", "edit ms", "peak RSS")) {
            assertTrue(r.out().contains(column), column + " in\n" + r.out());
        }
        assertTrue(r.out().contains("eta 0.3, seed 3"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("again") && l.contains(" 64 ")), r.out());
        assertTrue(r.out().contains("libtorch cpu fp32"), r.out());
    }

    @Test
    void childJvmPerConfiguration() {
        Run r = CliTest.run(tiny("--no-safety-checker").toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("one JVM per configuration and size"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("libtorch ") && l.matches(".*\\d+M$")), r.out());
    }

    @Test
    void randomModelRefusesUnknownArchitectureAndFolderInUse() throws IOException {
        Run unknown = CliTest.run("random-model", "sdxl", "--output", tmp.resolve("m").toString());
        assertEquals(2, unknown.code(), unknown.err());
        assertTrue(unknown.err().contains("'sdxl'") && unknown.err().contains("[sd15, sd21]"), unknown.err());
        Files.writeString(tmp.resolve("keep.txt"), "x");
        Run used = CliTest.run("random-model", "sd15", "--output", tmp.toString());
        assertEquals(2, used.code(), used.err());
        assertTrue(used.err().contains("not an empty directory"), used.err());
    }
}
