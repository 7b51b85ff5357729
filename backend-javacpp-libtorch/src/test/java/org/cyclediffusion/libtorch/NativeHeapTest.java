package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The launcher's glibc policy and {@link NativeHeap#trim}, in a fresh JVM started with the
 * {@code GLIBC_TUNABLES} the launcher script sets (read from the script, so the two cannot drift;
 * glibc reads it only at process start): LibTorch's large blocks stay resident after they are freed,
 * where they are reused, and {@code trim} gives them back. Without the policy the 96 MiB block would
 * be unmapped on free (the per-call faults the policy removes). {@link NativeHeap#trimAbove} keeps
 * them while the heap's free bytes are within its bound. A block of 128 MiB or more (a 512² VAE
 * decoder's activation) is still given back on free, so such blocks cannot fragment the heap.
 */
class NativeHeapTest {
    private static final long MIB = 1 << 20;

    @Test
    void freedBlocksStayForReuseUntilTrimmed() throws IOException, InterruptedException {
        Assumptions.assumeTrue(com.sun.jna.Platform.isLinux() && Files.isReadable(Path.of("/proc/self/statm")),
                "glibc's tunables and malloc_trim: Linux only");
        String tunables = LauncherPolicy.glibcTunables();
        Map<String, Long> withPolicy = probe(tunables);
        assertTrue(withPolicy.get("held") - withPolicy.get("before") >= 130 * MIB, "the blocks were resident: " + withPolicy);
        assertTrue(withPolicy.get("freed") - withPolicy.get("before") >= 130 * MIB, "freed blocks stay in the heap: " + withPolicy);
        assertTrue(withPolicy.get("huge_held") - withPolicy.get("freed") >= 150 * MIB, "the 160 MiB block was resident: " + withPolicy);
        assertTrue(withPolicy.get("huge_freed") - withPolicy.get("freed") < 16 * MIB,
                "a block over the 128 MiB threshold is given back on free: " + withPolicy);
        if (LauncherPolicy.transparentHugePagesOnRequest()) {
            // hugetlb=1: glibc asks for 2 MiB pages, so filling the blocks took ~1/512 of the page faults
            assertTrue(withPolicy.get("anon_huge_held") >= 64 * MIB, "the heap's blocks sit in transparent huge pages: " + withPolicy);
        } else {
            System.out.println("transparent huge pages are off on this kernel (/sys/kernel/mm/transparent_hugepage/enabled): not checked");
        }
        assertTrue(withPolicy.get("free_bytes") >= 130 * MIB, "mallinfo2 counts them free: " + withPolicy);
        assertEquals(0, withPolicy.get("kept_trimmed_any"), "not trimmed below the bound: " + withPolicy);
        assertTrue(withPolicy.get("freed") - withPolicy.get("kept") < 16 * MIB, "kept resident below the bound: " + withPolicy);
        assertEquals(1, withPolicy.get("trimmed_any"), "malloc_trim returned memory: " + withPolicy);
        assertTrue(withPolicy.get("freed") - withPolicy.get("trimmed") >= 130 * MIB, "trim gave them back: " + withPolicy);

        Map<String, Long> system = probe(null);
        assertTrue(system.get("freed") - system.get("before") < 64 * MIB,
                "glibc's default unmaps the large blocks on free (what the policy is for): " + system);
    }

    private static Map<String, Long> probe(String tunables) throws IOException, InterruptedException {
        Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"), Probe.class.getName())
                .redirectErrorStream(true);
        Process p = LauncherPolicy.withGlibcTunables(pb, tunables).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe timed out");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        Map<String, Long> figures = new HashMap<>();
        Matcher m = Pattern.compile("(\\w+)=(\\d+)").matcher(out.lines().filter(l -> l.startsWith("heap ")).findFirst().orElseThrow(
                () -> new AssertionError("no figures from the probe: " + out)));
        while (m.find()) {
            figures.put(m.group(1), Long.parseLong(m.group(2)));
        }
        return figures;
    }

    /**
     * Run in its own JVM: allocates 16 blocks of 3 MiB and one of 96 MiB through LibTorch, frees them,
     * then one of 160 MiB and frees it, trims above a bound over what is free, then above one under
     * it; RSS at each point.
     */
    public static final class Probe {
        public static void main(String[] args) throws IOException {
            TorchNatives.load();
            NativeHeap.trim();
            long before = rss();
            long held;
            long anonHugeHeld;
            try (PointerScope scope = new PointerScope()) {
                for (int i = 0; i < 16; i++) {
                    torch.empty(3 * MIB / 4).fill_(new Scalar(1.0f));
                }
                torch.empty(96 * MIB / 4).fill_(new Scalar(1.0f)); // over a thread arena's 64 MiB heap
                held = rss();
                anonHugeHeld = anonHugePages();
            }
            long freed = rss();
            long hugeHeld;
            try (PointerScope scope = new PointerScope()) {
                torch.empty(160 * MIB / 4).fill_(new Scalar(1.0f)); // over the launcher's mmap threshold
                hugeHeld = rss();
            }
            long hugeFreed = rss();
            long free = NativeHeap.freeBytes();
            // below the bound nothing is given back; above it, as trim
            boolean keptAny = NativeHeap.trimAbove(free + MIB);
            long kept = rss();
            boolean any = NativeHeap.trimAbove(free / 2);
            long trimmed = rss();
            System.out.println("heap before=" + before + " held=" + held + " anon_huge_held=" + anonHugeHeld + " freed=" + freed + " huge_held=" + hugeHeld
                    + " huge_freed=" + hugeFreed + " free_bytes=" + free + " kept_trimmed_any="
                    + (keptAny ? 1 : 0) + " kept=" + kept + " trimmed=" + trimmed + " trimmed_any=" + (any ? 1 : 0));
        }

        /** Anonymous memory in transparent huge pages, bytes ({@code AnonHugePages} of smaps_rollup; 0 where absent). */
        private static long anonHugePages() throws IOException {
            Path rollup = Path.of("/proc/self/smaps_rollup");
            if (!Files.isReadable(rollup)) {
                return 0;
            }
            return Files.readAllLines(rollup).stream().filter(l -> l.startsWith("AnonHugePages:"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024).findFirst().orElse(0);
        }

        private static long rss() throws IOException {
            String[] statm = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
            return Long.parseLong(statm[1]) * 4096;
        }
    }
}
