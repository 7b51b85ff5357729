package org.cyclediffusion.libtorch;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Drops the pages of a read-only file mapping from this process's resident set while keeping the
 * mapping: {@code madvise(MADV_DONTNEED)}. For a file mapping that is safe (unlike for anonymous
 * memory, which it would zero): the pages were never written, they stay in the OS page cache as
 * clean file pages, and the next read faults them in again with the file's bytes, from the cache
 * without disk I/O unless the kernel reclaimed them meanwhile. Tensors viewing the mapping stay
 * valid. {@code MADV_PAGEOUT} would also evict them from the cache, so that a later run reads the
 * disk again; {@code MADV_COLD} would leave them resident.
 *
 * <p>Java 17 has no call for this, so it goes through JNA (its native part ships in the jar).
 * Linux only: elsewhere, or when JNA cannot load, {@link #release} does nothing and says why
 * once, at DEBUG.
 */
final class ResidentPages {
    private static final System.Logger LOG = System.getLogger(ResidentPages.class.getName());
    /** {@code <sys/mman.h>}: the same value on every Linux architecture JavaCPP's LibTorch ships for. */
    private static final int MADV_DONTNEED = 4;
    private static final long PAGE_SIZE;

    static {
        long pageSize = 0;
        if (!Platform.isLinux()) {
            LOG.log(System.Logger.Level.DEBUG, "resident weight pages are not released on " + System.getProperty("os.name")
                    + " (madvise(MADV_DONTNEED) is used on Linux only)");
        } else {
            try {
                Native.register(LibC.class, Platform.C_LIBRARY_NAME);
                pageSize = LibC.getpagesize();
            } catch (LinkageError | RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "resident weight pages are not released: JNA cannot call madvise (" + e + ")");
                pageSize = 0;
            }
        }
        PAGE_SIZE = pageSize;
    }

    /** libc, bound by JNA's direct mapping (no proxy per call). */
    private static final class LibC {
        static native int madvise(Pointer address, NativeLong length, int advice) throws LastErrorException;

        static native int getpagesize();
    }

    private ResidentPages() {
    }

    /** Whether {@link #release} can drop pages on this platform. */
    static boolean available() {
        return PAGE_SIZE > 0;
    }

    /**
     * Drops the resident pages under {@code mapping}, which must be a read-only mapping of a file
     * (as {@link org.cyclediffusion.core.io.TensorSource#buffer} returns) and still mapped. The range
     * is widened to whole pages; those pages belong to the same file mapping (a mapping starts on a
     * page boundary and ends on one), so nothing else is touched.
     *
     * @return the bytes of the range advised, 0 if nothing was done
     */
    static long release(ByteBuffer mapping) {
        if (PAGE_SIZE == 0 || !mapping.isDirect() || !mapping.isReadOnly() || mapping.capacity() == 0) {
            return 0;
        }
        long address = Pointer.nativeValue(Native.getDirectBufferPointer(mapping));
        long start = address - Math.floorMod(address, PAGE_SIZE);
        long end = Math.floorDiv(address + mapping.capacity() + PAGE_SIZE - 1, PAGE_SIZE) * PAGE_SIZE;
        if (!fileBacked(start, end)) {
            // A read-only direct buffer is not proof of a file mapping (a read-only view of
            // allocateDirect memory is one too), and MADV_DONTNEED would zero anonymous pages.
            LOG.log(System.Logger.Level.DEBUG, "not a file mapping, left resident: " + (end - start) + " bytes at 0x"
                    + Long.toHexString(start));
            return 0;
        }
        try {
            LibC.madvise(new Pointer(start), new NativeLong(end - start), MADV_DONTNEED);
            return end - start;
        } catch (LastErrorException e) {
            LOG.log(System.Logger.Level.DEBUG, "madvise(MADV_DONTNEED) of " + (end - start) + " bytes failed: errno " + e.getErrorCode());
            return 0;
        }
    }

    /**
     * Whether every page of [start, end) lies in a mapping of a file, as {@code /proc/self/maps}
     * lists them ({@code start-end perms offset dev inode path}; inode 0 is anonymous memory).
     */
    static boolean fileBacked(long start, long end) {
        List<String> maps;
        try {
            maps = Files.readAllLines(Path.of("/proc/self/maps"), StandardCharsets.ISO_8859_1);
        } catch (IOException | RuntimeException e) {
            return false;
        }
        long covered = start;
        for (String line : maps) {
            String[] f = line.trim().split("\\s+", 6);
            if (f.length < 6 || f[4].equals("0")) {
                continue;
            }
            int dash = f[0].indexOf('-');
            long from = Long.parseUnsignedLong(f[0], 0, dash, 16);
            long to = Long.parseUnsignedLong(f[0], dash + 1, f[0].length(), 16);
            if (from <= covered && covered < to) {
                covered = to;
                if (covered >= end) {
                    return true;
                }
            }
        }
        return false;
    }
}
