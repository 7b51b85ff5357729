package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.cli.CliTest.Run;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;

/** {@code bench --config} specs: system properties and environment entries of a configuration's JVM. */
class BenchConfigTest {
    private static final Path MODEL = Path.of("models/sd");

    @Test
    void environmentEntriesSetAndRemoveVariablesOfTheChild() {
        BenchConfig c = BenchConfig.parse("libtorch,label=tuned,env.GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0,"
                + "env.OMP_WAIT_POLICY=,-Dx=1", MODEL, null, null);
        assertEquals(List.of("-Dx=1"), c.systemProperties());
        assertEquals("glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0", c.environment().get("GLIBC_TUNABLES"), "value kept whole, '=' and ':' included");
        Map<String, String> env = new HashMap<>(Map.of("OMP_WAIT_POLICY", "PASSIVE", "HOME", "/root", "GLIBC_TUNABLES", "old"));
        c.applyEnvironment(env);
        assertEquals(Map.of("HOME", "/root", "GLIBC_TUNABLES", "glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0"), env,
                "an empty value removes the variable, others are untouched");
        BenchConfig unnamed = BenchConfig.parse("libtorch,env.GLIBC_TUNABLES=", MODEL, null, null);
        assertEquals("libtorch GLIBC_TUNABLES=", unnamed.name(), "the table names what differs");
    }

    @Test
    void malformedEnvironmentEntriesNameTheEntry() {
        for (String bad : List.of("libtorch,env.=1", "libtorch,env.1X=2", "libtorch,env.A-B=3", "libtorch,env.X")) {
            Errors.UsageException e = assertThrows(Errors.UsageException.class, () -> BenchConfig.parse(bad, MODEL, null, null), bad);
            assertTrue(e.getMessage().contains("--config '" + bad + "'") && e.getMessage().contains("env.NAME=value"), e.getMessage());
        }
    }

    /** source-guided=B reaches the child JVM's edit through the spec, and names the configuration when unlabelled. */
    @Test
    void sourceGuidedIsPartOfTheConfiguration() {
        BenchConfig c = BenchConfig.parse("libtorch,source-guided=true", MODEL, null, null);
        assertEquals(Boolean.TRUE, c.sourceGuided());
        assertEquals("libtorch source-guided=true", c.name());
        assertEquals(Boolean.TRUE, BenchConfig.parse(c.spec(), MODEL, null, null).sourceGuided(), c.spec());
        assertEquals(null, BenchConfig.parse("libtorch", MODEL, null, null).sourceGuided(), "default: the edit's own choice");
        Errors.UsageException e = assertThrows(Errors.UsageException.class, () -> BenchConfig.parse("libtorch,source-guided=yes", MODEL, null, null));
        assertTrue(e.getMessage().contains("source-guided=yes: expected true or false"), e.getMessage());
    }

    @Test
    void environmentEntriesNeedTheirOwnJvm() {
        Run r = CliTest.run("bench", "--in-process", "--config", "libtorch=" + Fixtures.model("tiny-sd") + ",env.GLIBC_TUNABLES=", "--image",
                Fixtures.image("img_a_64x64.png").toString(), "--runs", "1", "--warmup", "0");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("env. entries need a JVM of their own"), r.err());
    }
}
