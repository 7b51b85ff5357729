package org.cyclediffusion.libtorch.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.bytedeco.javacpp.Pointer;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Soak: many edits in one process on the LibTorch backend must keep resident memory flat, i.e.
 * every forward pass releases its native temporaries (one {@code PointerScope} per pass), every
 * tensor handed back to the host is freed, and every per-edit {@code Conditioning} is closed.
 *
 * <p>Opt-in, because it is a benchmark, not a unit test (a minute or more of CPU on a shared machine):
 * <pre>
 *   OMP_NUM_THREADS=1 mvn -q -o -pl backend-javacpp-libtorch -am test -Dtest=EditLoopSoakTest \
 *       -Dsurefire.failIfNoSpecifiedTests=false -Dcyclediffusion.soak=true \
 *       [-Dcyclediffusion.soak.edits=200] [-Dcyclediffusion.soak.every=10]
 * </pre>
 * It prints the resident set size ({@code VmRSS} of {@code /proc/self/status}, split into anonymous
 * and file-backed), the JVM's own heap and non-heap (JIT code, metaspace), and JavaCPP's count of
 * live native objects, read before the collection too so that anything released only by the
 * garbage collector (not deterministically) shows, at edits 1, 50, 100 and the last.
 *
 * <p>It fails when JavaCPP's live count moves after edit 1 (a native object not released), or when
 * the RSS grows by more than 64 MiB between edit 50 (after warm-up: allocator caches and the JIT
 * are settled) and the last edit. Each checkpoint's RSS is the least of the readings after the five
 * edits ending there: a leak raises every reading, while a transient peak of the JVM or the
 * allocator (one 200-edit run in seven read +68 MiB once and never again) does not.
 */
class EditLoopSoakTest {
    private static final long MAX_GROWTH = 64L << 20;
    private static final int WINDOW = 5;

    @Test
    void editsKeepResidentMemoryFlat() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.soak"),
                "soak benchmark skipped: run with -Dcyclediffusion.soak=true (a minute or more of CPU; see the class comment)");
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "the soak benchmark reads /proc/self/status (Linux)");
        int edits = Integer.getInteger("cyclediffusion.soak.edits", 200);
        int every = Integer.getInteger("cyclediffusion.soak.every", 0);
        assertTrue(edits >= 100, "cyclediffusion.soak.edits must be at least 100, found " + edits);
        List<Integer> checkpoints = List.of(1, 50, 100, edits);
        EditRequest.Builder request = EditRequest.builder().prompts(List.of("An astronaut riding an elephant"))
                .sourcePrompts(List.of("An astronaut riding a horse")).images(List.of(ImageFiles.read(Fixtures.image("img_a_64x64.png"))))
                .strength(0.8).numInferenceSteps(4).guidanceScale(2.0).sourceGuidanceScale(1.0).eta(0.1).outputType(OutputType.PIL);
        long[] rss = new long[checkpoints.size()];
        long pointersAfterFirst = -1;
        long t0 = System.nanoTime();
        try (CycleDiffusionPipeline pipeline = new PipelineLoader().load(PipelineLoader.Options.of(Fixtures.model("tiny-sd"))
                .withBackend("libtorch").withSafetyChecker(false))) {
            System.out.printf(Locale.ROOT, "soak: tiny-sd, libtorch cpu fp32 (%d intra-op threads), 4 steps x strength 0.8 (3 run),"
                    + " guidance 2, %d edits; after load: %s%n", org.bytedeco.pytorch.global.torch.get_num_threads(), edits, new Sample());
            long windowMin = Long.MAX_VALUE;
            long windowMax = 0;
            for (int i = 1; i <= edits; i++) {
                EditResult r = pipeline.edit(request.seed(i).build());
                assertEquals(1, r.images().size(), "one image per edit");
                int next = nextCheckpoint(checkpoints, i);
                boolean inWindow = next - i < WINDOW;
                if (inWindow || (every > 0 && i % every == 0)) {
                    Sample s = new Sample();
                    if (inWindow) {
                        windowMin = Math.min(windowMin, s.rss);
                        windowMax = Math.max(windowMax, s.rss);
                    }
                    if (i == 1) {
                        pointersAfterFirst = s.pointers;
                    }
                    assertEquals(pointersAfterFirst, s.pointersBeforeGc, "edit " + i + ": JavaCPP's live native objects before a"
                            + " collection, vs after edit 1 (an object not closed or out of every PointerScope)");
                    if (i == next) {
                        rss[checkpoints.indexOf(next)] = windowMin;
                        System.out.printf(Locale.ROOT, "soak: edit %3d  %s  (%.1f s)  checkpoint VmRSS min %.1f / max %.1f MiB over edits %d-%d%n",
                                i, s, (System.nanoTime() - t0) / 1e9, mib(windowMin), mib(windowMax), Math.max(1, i - WINDOW + 1), i);
                        windowMin = Long.MAX_VALUE;
                        windowMax = 0;
                    } else if (every > 0 && i % every == 0) {
                        System.out.printf(Locale.ROOT, "soak: edit %3d  %s  (%.1f s)%n", i, s, (System.nanoTime() - t0) / 1e9);
                    }
                }
            }
        }
        long growth = rss[3] - rss[1];
        System.out.printf(Locale.ROOT, "soak: VmRSS at edits 1, 50, 100, %d: %.1f, %.1f, %.1f, %.1f MiB; growth 50 -> %d: %+.1f MiB (limit %d MiB)%n",
                edits, mib(rss[0]), mib(rss[1]), mib(rss[2]), mib(rss[3]), edits, mib(growth), MAX_GROWTH >> 20);
        assertTrue(growth <= MAX_GROWTH, String.format(Locale.ROOT, "resident memory grew by %.1f MiB between edit 50 and edit %d"
                + " (limit %d MiB): native memory is leaking", mib(growth), edits, MAX_GROWTH >> 20));
    }

    private static int nextCheckpoint(List<Integer> checkpoints, int i) {
        for (int c : checkpoints) {
            if (c >= i) {
                return c;
            }
        }
        return Integer.MAX_VALUE;
    }

    private static double mib(long bytes) {
        return bytes / 1048576.0;
    }

    /** One reading: JavaCPP's live count before a collection, then RSS, JVM memory and JavaCPP's count after it. */
    private static final class Sample {
        final long pointersBeforeGc = Pointer.totalCount();
        final long rssBeforeGc = status("VmRSS:");
        final long rss;
        final long anon;
        final long file;
        final long heapUsed;
        final long nonHeap;
        final long pointers;

        Sample() {
            System.gc();
            rss = status("VmRSS:");
            anon = status("RssAnon:");
            file = status("RssFile:");
            Runtime rt = Runtime.getRuntime();
            heapUsed = rt.totalMemory() - rt.freeMemory();
            nonHeap = ManagementFactory.getMemoryMXBean().getNonHeapMemoryUsage().getCommitted();
            pointers = Pointer.totalCount();
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "VmRSS %6.1f MiB (anon %6.1f, file %5.1f; before gc %6.1f)  heap used %5.1f  non-heap %5.1f MiB"
                    + "  javacpp live %d (before gc %d)", mib(rss), mib(anon), mib(file), mib(rssBeforeGc), mib(heapUsed), mib(nonHeap),
                    pointers, pointersBeforeGc);
        }
    }

    /** A memory line of {@code /proc/self/status} ({@code VmRSS:}, {@code RssAnon:}, ...), in bytes. */
    static long status(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    String[] parts = line.substring(key.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024; // reported in kB
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/status", e);
        }
        throw new IllegalStateException("/proc/self/status has no " + key + " line");
    }
}
