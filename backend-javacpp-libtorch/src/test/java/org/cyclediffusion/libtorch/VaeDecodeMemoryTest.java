package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.cyclediffusion.libtorch.bench.VaeDecodeProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Memory budget of a full-size SD VAE decode at 256² (32×32 latents → 256×256 pixels, one image),
 * float32 on the CPU, measured in a child JVM ({@link VaeDecodeProbe}) so nothing else this test
 * JVM did counts: the resident high-water mark is reset after the weights load, and the growth
 * during the decode (the weights' pages as the decoder first reads them, 335 MB, plus the
 * activations freed block by block) must stay within {@value #DECODE_BUDGET_MB} MB. Measured on
 * the development machine: 846–902 MB (335 MB of weights; most of the rest is one block's activations at
 * 256² and the im2col buffer of LibTorch's non-oneDNN 3×3 convolution, 128·9·256²·4 B = 302 MB);
 * 2,020 MB before the VAE freed each block's temporaries. Linux only ({@code /proc/self/clear_refs},
 * {@code VmHWM}). Run twice: under glibc's default heap (a library consumer's JVM) and under the
 * launcher's {@code GLIBC_TUNABLES} (transparent huge pages, large blocks kept for reuse), 725 MB there.
 */
@EnabledOnOs(OS.LINUX)
class VaeDecodeMemoryTest {
    /** About 1.2× the highest measured: a regression that keeps the blocks' temporaries alive (2 GB) fails it. */
    static final long DECODE_BUDGET_MB = 1100;

    @TempDir
    Path tmp;

    @Test
    void fullSizeDecodeAt256StaysWithinBudget() throws IOException, InterruptedException {
        Path folder = FullSizeVae.write(tmp.resolve("sd-vae"));
        // glibc's own policy (a library consumer's JVM), then the launcher's (the CLI's, bench's, server's)
        decodeWithinBudget(folder, null);
        decodeWithinBudget(folder, LauncherPolicy.glibcTunables());
    }

    private static void decodeWithinBudget(Path folder, String glibcTunables) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g", "-cp",
                System.getProperty("java.class.path"), VaeDecodeProbe.class.getName(), folder.toString(), "256"));
        Process p = LauncherPolicy.withGlibcTunables(new ProcessBuilder(cmd).redirectErrorStream(true), glibcTunables).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), output);
        String line = output.lines().filter(l -> l.startsWith("probe ")).findFirst().orElseThrow(() -> new AssertionError(output));
        String[] f = line.split(" ");
        long rssAfterLoadKb = Long.parseLong(f[1]);
        long peakKb = Long.parseLong(f[2]);
        double growthMb = (peakKb - rssAfterLoadKb) / 1024.0;
        String policy = glibcTunables == null ? "glibc's default heap" : "GLIBC_TUNABLES=" + glibcTunables;
        System.out.printf(Locale.ROOT, "full-size VAE decode 256², %s: RSS after load %.0f MB, peak %.0f MB, growth %.0f MB, %s ms%n",
                policy, rssAfterLoadKb / 1024.0, peakKb / 1024.0, growthMb, f[3]);
        assertTrue(growthMb <= DECODE_BUDGET_MB,
                "decode under " + policy + " grew the resident set by " + growthMb + " MB, budget " + DECODE_BUDGET_MB + " MB");
    }
}
