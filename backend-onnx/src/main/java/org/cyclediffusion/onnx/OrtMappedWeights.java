package org.cyclediffusion.onnx;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The weights ONNX Runtime maps from a network's files (the cache entry's {@code model.onnx.data},
 * or an export's external data), and giving their resident pages back after the network's last
 * use in a one-shot run, as the LibTorch backend does with its own mappings.
 *
 * <p>ONNX Runtime maps each large initializer on its own, private and writable (copy-on-write), and
 * never tells us where. So the mappings are found by file in {@code /proc/self/smaps}, and a mapping
 * is released ({@code madvise(MADV_DONTNEED)}) only while none of its pages was written
 * ({@code Anonymous: 0 kB}): such a page then reads the file again when touched, the same bytes. A
 * mapping with a written page is left alone, since dropping it would bring back the file's bytes.
 * Linux only; elsewhere nothing is released.
 */
final class OrtMappedWeights {
    private static final System.Logger LOG = System.getLogger(OrtMappedWeights.class.getName());
    /** {@code <sys/mman.h>}, the same on every Linux architecture ONNX Runtime's jar ships for. */
    private static final int MADV_DONTNEED = 4;
    private static final boolean BOUND;

    static {
        boolean bound = false;
        if (Platform.isLinux()) {
            try {
                Native.register(LibC.class, Platform.C_LIBRARY_NAME);
                bound = true;
            } catch (LinkageError | RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "ONNX Runtime's mapped weights are not released: JNA cannot call madvise (" + e + ")");
            }
        }
        BOUND = bound;
    }

    private static final class LibC {
        static native int madvise(Pointer address, NativeLong length, int advice) throws LastErrorException;
    }

    /** One mapping of a file: its address range, resident bytes, and bytes written (copied on write). */
    record Mapping(long start, long end, String file, long rssBytes, long anonymousBytes) {
    }

    private OrtMappedWeights() {
    }

    /**
     * Binds {@code madvise} now (JNA's first use loads its native library, ~0.3 s), so that it is
     * part of loading the models rather than of the first release in an edit.
     */
    static boolean available() {
        return BOUND;
    }

    /**
     * This process's file mappings under any of {@code dirs} (by real path), from one reading of
     * {@code /proc/self/smaps}; none where it cannot be read.
     */
    static List<Mapping> under(List<Path> dirs) {
        Path smaps = Path.of("/proc/self/smaps");
        if (!Files.isReadable(smaps)) {
            return List.of();
        }
        List<String> prefixes = new ArrayList<>();
        List<String> lines;
        try {
            for (Path dir : dirs) {
                prefixes.add(dir.toRealPath() + "/");
            }
            lines = Files.readAllLines(smaps);
        } catch (IOException e) {
            return List.of();
        }
        List<Mapping> out = new ArrayList<>();
        long start = 0;
        long end = 0;
        String file = null;
        long rss = 0;
        long anonymous = 0;
        // ~20 lines per mapping and thousands of mappings in a JVM: only a mapping's first line (its
        // address range, lower-case hex) is split; the two figures are read by prefix.
        for (String line : lines) {
            char c = line.isEmpty() ? ' ' : line.charAt(0);
            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
                if (file != null) {
                    out.add(new Mapping(start, end, file, rss, anonymous));
                }
                String[] f = line.split(" +", 6);
                int dash = f[0].indexOf('-');
                start = Long.parseUnsignedLong(f[0], 0, dash, 16);
                end = Long.parseUnsignedLong(f[0], dash + 1, f[0].length(), 16);
                String path = f.length == 6 ? f[5].strip() : "";
                file = !path.isEmpty() && prefixes.stream().anyMatch(path::startsWith) ? path : null;
                rss = 0;
                anonymous = 0;
            } else if (file != null && line.startsWith("Rss:")) {
                rss = kilobytes(line) << 10;
            } else if (file != null && line.startsWith("Anonymous:")) {
                anonymous = kilobytes(line) << 10;
            }
        }
        if (file != null) {
            out.add(new Mapping(start, end, file, rss, anonymous));
        }
        return out;
    }

    /** The number of a {@code Key:   123 kB} line. */
    private static long kilobytes(String line) {
        return Long.parseLong(line.substring(line.indexOf(':') + 1, line.length() - 2).strip());
    }

    /**
     * Drops the resident pages of every unwritten mapping of a file under one of {@code dirs}; the bytes that
     * were resident in them. 0 where the platform has no {@code madvise} or {@code smaps}.
     */
    static long release(List<Path> dirs) {
        if (!BOUND) {
            return 0;
        }
        long released = 0;
        for (Mapping m : under(dirs)) {
            if (m.anonymousBytes() != 0 || m.rssBytes() == 0) {
                continue;
            }
            try {
                LibC.madvise(new Pointer(m.start()), new NativeLong(m.end() - m.start()), MADV_DONTNEED);
                released += m.rssBytes();
            } catch (LastErrorException e) {
                LOG.log(System.Logger.Level.DEBUG, "madvise(MADV_DONTNEED) on " + m.file() + " failed: " + e.getMessage());
            }
        }
        return released;
    }
}
