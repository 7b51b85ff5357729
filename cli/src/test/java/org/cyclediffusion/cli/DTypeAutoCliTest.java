package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.precision.AutoDType;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --dtype}: a bad value names the flag and what it accepts; {@code auto} measures once, says what it chose, then reuses it. */
class DTypeAutoCliTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void cacheInTmp() {
        System.setProperty(AutoDType.CACHE_PROPERTY, tmp.resolve("cache/dtype-auto.json").toString());
    }

    @AfterEach
    void restore() {
        System.clearProperty(AutoDType.CACHE_PROPERTY);
    }

    @Test
    void aBogusDTypeIsAUsageErrorListingTheAcceptedValues() {
        CliTest.Run r = CliTest.run(edit("bogus", "o.png"));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--dtype: 'bogus' is not a precision; expected one of fp32, fp16, bf16, auto"), r.err());
        assertFalse(r.err().contains("dtype auto"), r.err());
        assertFalse(Files.exists(tmp.resolve("o.png")));
    }

    @Test
    void autoChoosesOnceAndTheSecondEditReusesTheDecision() throws Exception {
        CliTest.Run first = CliTest.run(edit("auto", "a.png"));
        assertEquals(0, first.code(), first.err());
        assertTrue(first.err().contains("dtype auto: "), first.err());
        assertTrue(first.err().contains("UNet probe: fp32 "), first.err());
        assertFalse(first.err().contains("cached decision"), first.err());
        assertTrue(Files.isRegularFile(tmp.resolve("a.png")));
        assertTrue(Files.isRegularFile(tmp.resolve("cache/dtype-auto.json")));

        CliTest.Run second = CliTest.run(edit("AUTO", "b.png"));
        assertEquals(0, second.code(), second.err());
        assertTrue(second.err().contains("; cached decision)"), second.err());
        String chosen = line(first.err());
        assertEquals(chosen, line(second.err()).replace("; cached decision", ""));
    }

    @Test
    void benchTakesAutoAsEditDoesAndReportsTheChosenType() {
        CliTest.Run r = CliTest.run("bench", "--in-process", "--config", "libtorch=" + Fixtures.model("tiny-sd") + ",label=auto,dtype=auto",
                "--image", Fixtures.image("img_a_64x64.png").toString(), "--steps", "2", "--strength", "1", "--runs", "1", "--warmup", "0",
                "--no-safety-checker");
        assertEquals(0, r.code(), r.err());
        String chosen = line(r.err()).replaceAll(".*dtype auto: (\\w+).*", "$1");
        assertTrue(chosen.matches("fp32|bf16|fp16"), r.err());
        assertTrue(r.out().contains("libtorch cpu " + chosen), "the run used the chosen type: " + r.out());
        CliTest.Run bad = CliTest.run("bench", "--config", "libtorch=" + Fixtures.model("tiny-sd"), "--dtype", "fp64");
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().startsWith("error: --dtype"), bad.err());
    }

    private static String line(String err) {
        return err.lines().filter(l -> l.startsWith("dtype auto: ")).findFirst().orElseThrow();
    }

    private String[] edit(String dtype, String output) {
        return new String[] {"edit", "--model", Fixtures.model("tiny-sd").toString(), "--backend", "libtorch", "--image",
                Fixtures.image("img_a_64x64.png").toString(), "--source-prompt", "a horse", "--prompt", "a zebra", "--steps", "2",
                "--strength", "1", "--guidance-scale", "2", "--seed", "0", "--no-safety-checker", "--quiet", "--dtype", dtype,
                "--output", tmp.resolve(output).toString()};
    }
}
