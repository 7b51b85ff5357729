package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.SafetensorsWriter;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TorchWeights#releaseResident} on a mapped file of full-size-network scale (256 MiB, four
 * float32 tensors of 64 MiB, as large as the UNet's largest): after the tensors are read, the
 * file's pages are resident; after the release they are not (the process's RSS falls by as much),
 * the tensors still read the same bytes, and reading them makes them resident again. Resident
 * bytes per file come from {@code /proc/self/smaps} (exact for the file, whatever else this JVM
 * does); the RSS drop from {@code /proc/self/status}. Linux only (madvise).
 */
@EnabledOnOs(OS.LINUX)
class ResidentWeightsTest {
    private static final int TENSORS = 4;
    private static final long[] SHAPE = {16, 1024, 1024};
    private static final long TENSOR_BYTES = 16L * 1024 * 1024 * 4;
    private static final long MIB = 1024 * 1024;
    /** The first line of a mapping's entry in smaps: {@code start-end perms offset dev inode [path]}. */
    private static final Pattern VMA = Pattern.compile("[0-9a-f]+-[0-9a-f]+ ");

    @TempDir
    static Path tmp;
    private static Path file;

    @BeforeAll
    static void writeFile() {
        file = tmp.resolve("weights.safetensors");
        SafetensorsWriter w = new SafetensorsWriter();
        for (int k = 0; k < TENSORS; k++) {
            int tensor = k;
            w.add(name(k), SafetensorsDType.F32, SHAPE, out -> {
                ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (long i = 0; i < TENSOR_BYTES / 4; ) {
                    b.clear();
                    while (b.hasRemaining()) {
                        b.putFloat((i++ % 1009) * 0.25f - tensor);
                    }
                    out.write(b.array());
                }
            });
        }
        w.write(file);
    }

    private static String name(int k) {
        return "block." + k + ".weight";
    }

    private static TorchWeights load(TorchContext cpu) {
        Map<String, long[]> expected = new LinkedHashMap<>();
        for (int k = 0; k < TENSORS; k++) {
            expected.put(name(k), SHAPE);
        }
        return TorchWeights.load(SafetensorsFile.open(file), expected, UnaryOperator.identity(), cpu, ScalarType.Float);
    }

    /** Reads every element of every tensor (a sum in double, in the file's order: the same bytes give the same value). */
    private static double[] read(TorchContext cpu, TorchWeights w) {
        double[] sums = new double[TENSORS];
        for (int k = 0; k < TENSORS; k++) {
            String n = name(k);
            sums[k] = cpu.run(() -> w.get(n).sum(new org.bytedeco.pytorch.ScalarTypeOptional(ScalarType.Double)).item_double());
        }
        return sums;
    }

    /** Resident bytes of this process's mappings of {@code f} ({@code Rss:} of each of its entries in smaps). */
    static long residentBytesOf(Path f) {
        return smapsLinesOf(f, "Rss:").stream().mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).sum() * 1024;
    }

    /**
     * The lines starting with {@code key} in the entries of this process's smaps that map {@code f},
     * one per mapping (an entry begins with {@code start-end perms offset dev inode [path]}).
     */
    private static List<String> smapsLinesOf(Path f, String key) {
        try {
            String real = f.toRealPath().toString();
            List<String> found = new ArrayList<>();
            boolean inFile = false;
            for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
                if (VMA.matcher(line).lookingAt()) {
                    inFile = line.endsWith(" " + real);
                } else if (inFile && line.startsWith(key)) {
                    found.add(line);
                }
            }
            return found;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long vmRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new AssertionError("no VmRSS in /proc/self/status");
    }

    @Test
    void releasedPagesLeaveTheResidentSetAndComeBackWithTheSameBytes() {
        assertTrue(ResidentPages.available(), "madvise through JNA must work on Linux");
        TorchContext cpu = TorchContext.open(Device.CPU, DType.FLOAT32);
        long total = TENSORS * TENSOR_BYTES;
        try (TorchWeights w = load(cpu)) {
            double[] first = read(cpu, w);
            long t1 = System.nanoTime();
            read(cpu, w);
            double residentReadMs = (System.nanoTime() - t1) / 1e6;
            long resident = residentBytesOf(file);
            assertTrue(resident >= total * 0.95, "read weights are resident: " + resident / MIB + " MiB of " + total / MIB);

            // Half of them (the VAE's encoder after encoding, say): only those pages go.
            long advised = w.releaseResident(n -> n.equals(name(0)) || n.equals(name(1)));
            // Each tensor's range widened to whole pages: at most a page more at either end.
            assertTrue(advised >= 2 * TENSOR_BYTES && advised <= 2 * (TENSOR_BYTES + 2 * 65536), "advised " + advised + " bytes");
            long half = residentBytesOf(file);
            assertTrue(half <= total / 2 + MIB && half >= total / 2 - MIB, "two of four tensors resident: " + half / MIB + " MiB");

            long rssBefore = vmRssBytes();
            long t0 = System.nanoTime();
            w.releaseResident(n -> true);
            double releaseMs = (System.nanoTime() - t0) / 1e6;
            long rssAfter = vmRssBytes();
            long left = residentBytesOf(file);
            System.out.printf(Locale.ROOT, "release: file resident %d -> %d -> %d MiB; VmRSS %d -> %d MiB; releasing %d MiB took %.1f ms%n",
                    resident / MIB, half / MIB, left / MIB, rssBefore / MIB, rssAfter / MIB, half / MIB, releaseMs);
            assertTrue(left <= MIB, "nothing of the file stays resident: " + left / MIB + " MiB");
            assertTrue(rssBefore - rssAfter >= half * 0.9, "the process's RSS falls by what was released: " + (rssBefore - rssAfter) / MIB
                    + " MiB of " + half / MIB);

            long t2 = System.nanoTime();
            double[] again = read(cpu, w);
            double refaultReadMs = (System.nanoTime() - t2) / 1e6;
            // What a later run pays for a release: the pages fault in again from the page cache.
            System.out.printf(Locale.ROOT, "reading %d MiB: %.1f ms resident, %.1f ms after the release%n", total / MIB, residentReadMs,
                    refaultReadMs);
            for (int k = 0; k < TENSORS; k++) {
                assertEquals(first[k], again[k], name(k) + " reads the same bytes after the release");
            }
            assertTrue(residentBytesOf(file) >= total * 0.95, "reading faults the pages in again");
        }
    }

    @Test
    void closedOrCopiedWeightsAdviseNothing() {
        TorchContext cpu = TorchContext.open(Device.CPU, DType.FLOAT32);
        TorchWeights closed = load(cpu);
        closed.close();
        assertEquals(0, closed.releaseResident(n -> true), "after close() the addresses may be other memory: never advised");
        System.setProperty(TorchWeights.COPY_PROPERTY, "true");
        try (TorchWeights copied = load(cpu)) {
            assertEquals(0, copied.releaseResident(n -> true), "copies have no file behind them and are kept");
            read(cpu, copied);
        } finally {
            System.clearProperty(TorchWeights.COPY_PROPERTY);
        }
    }

    /** Anonymous memory behind a read-only direct buffer is never advised: MADV_DONTNEED would zero it. */
    @Test
    void anAnonymousBufferIsLeftAlone() {
        ByteBuffer anonymous = ByteBuffer.allocateDirect(8 << 20);
        for (int i = 0; i < anonymous.capacity(); i++) {
            anonymous.put(i, (byte) 7);
        }
        assertEquals(0, ResidentPages.release(anonymous.asReadOnlyBuffer()));
        for (int i = 0; i < anonymous.capacity(); i += 4096) {
            assertEquals(7, anonymous.get(i), "byte " + i);
        }
    }

    /** One reading of the address map serves a whole list: its file mappings are advised, anything else is skipped. */
    @Test
    void aListAdvisesItsFileMappingsOnly() throws IOException {
        ByteBuffer anonymous = ByteBuffer.allocateDirect(8 << 20);
        anonymous.put(0, (byte) 7).put(anonymous.capacity() - 1, (byte) 9);
        try (FileChannel channel = FileChannel.open(file)) {
            ByteBuffer whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
            ByteBuffer middle = channel.map(FileChannel.MapMode.READ_ONLY, 12345, 3 * MIB); // not page-aligned: widened to whole pages
            float first = whole.order(ByteOrder.LITTLE_ENDIAN).getFloat((int) (channel.size() - TENSOR_BYTES));
            long pages = (channel.size() + 4095) / 4096 * 4096;
            assertEquals(pages + 3 * MIB + 4096, ResidentPages.release(java.util.List.of(anonymous.asReadOnlyBuffer(), whole, middle,
                    ByteBuffer.allocate(16).asReadOnlyBuffer())), "the whole file, and the middle mapping widened to whole pages (57 bytes into its first)");
            assertEquals(7, anonymous.get(0));
            assertEquals(9, anonymous.get(anonymous.capacity() - 1));
            assertEquals(first, whole.order(ByteOrder.LITTLE_ENDIAN).getFloat((int) (channel.size() - TENSOR_BYTES)), "read again from the file");
            Mappings.unmap(whole);
            Mappings.unmap(middle);
        }
    }

    /**
     * Loaded weights ask for transparent huge pages before their first read ({@code hg} among the
     * mapping's {@code VmFlags} in smaps, set by {@code madvise(MADV_HUGEPAGE)}): a cache miss then
     * reads the file in 2 MiB folios, which later mappings enter 2 MiB at a time.
     */
    @Test
    void loadedWeightsAskForHugePages() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of("/sys/kernel/mm/transparent_hugepage")),
                "this kernel has no transparent huge pages (no /sys/kernel/mm/transparent_hugepage): the advice is refused");
        TorchContext cpu = TorchContext.open(Device.CPU, DType.FLOAT32);
        try (TorchWeights w = load(cpu)) {
            assertEquals((long) TENSORS, hugePageAdvisedMappingsOf(file), "every 64 MiB tensor's mapping carries the advice");
            w.get(name(0)); // still readable: the advice changes how pages come in, not what they hold
        }
    }

    /** How many of this process's mappings of {@code f} have {@code hg} (VM_HUGEPAGE) in their {@code VmFlags}. */
    private static long hugePageAdvisedMappingsOf(Path f) {
        return smapsLinesOf(f, "VmFlags:").stream().filter(l -> (" " + l.substring("VmFlags:".length()) + " ").contains(" hg ")).count();
    }
}
