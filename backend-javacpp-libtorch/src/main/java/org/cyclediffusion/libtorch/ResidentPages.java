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
import java.util.Arrays;
import java.util.Collection;
import java.util.List;

/**
 * The pages of the read-only weight file mappings: how they come in ({@link #adviseHugePages}) and
 * how they leave. {@link #release} drops them from this process's resident set while keeping the
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
    private static final int MADV_HUGEPAGE = 14;
    private static final int O_RDONLY = 0;
    private static final int POSIX_FADV_DONTNEED = 4;
    private static final long PAGE_SIZE;
    /** Set when the kernel refused {@code MADV_HUGEPAGE} (no transparent huge pages): not asked again. */
    private static volatile boolean hugePagesRefused;

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

        static native int open(String path, int flags) throws LastErrorException;

        static native int fsync(int fd) throws LastErrorException;

        /** Returns the error number itself (0 on success); errno is not set. */
        static native int posix_fadvise(int fd, long offset, long length, int advice);

        static native int close(int fd);
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
        return release(List.of(mapping));
    }

    /**
     * {@link #release(ByteBuffer)} for many mappings, with one reading of the address map for all
     * of them. A network has hundreds of tensors, each its own mapping, so the map has thousands of
     * lines; reading and splitting it once per tensor took about 1.5 s of a full-size SD 1.5 edit
     * (JFR), which a single reading brings to milliseconds.
     *
     * @return the bytes advised in all
     */
    static long release(Collection<ByteBuffer> mappings) {
        if (PAGE_SIZE == 0 || mappings.isEmpty()) {
            return 0;
        }
        FileRanges files = null;
        long bytes = 0;
        for (ByteBuffer mapping : mappings) {
            if (!mapping.isDirect() || !mapping.isReadOnly() || mapping.capacity() == 0) {
                continue;
            }
            long[] range = pageRange(mapping);
            long start = range[0];
            long end = range[1];
            if (files == null) {
                files = FileRanges.read();
            }
            if (!files.covers(start, end)) {
                // A read-only direct buffer is not proof of a file mapping (a read-only view of
                // allocateDirect memory is one too), and MADV_DONTNEED would zero anonymous pages.
                LOG.log(System.Logger.Level.DEBUG, "not a file mapping, left resident: " + (end - start) + " bytes at 0x"
                        + Long.toHexString(start));
                continue;
            }
            try {
                LibC.madvise(new Pointer(start), new NativeLong(end - start), MADV_DONTNEED);
                bytes += end - start;
            } catch (LastErrorException e) {
                LOG.log(System.Logger.Level.DEBUG, "madvise(MADV_DONTNEED) of " + (end - start) + " bytes failed: errno " + e.getErrorCode());
            }
        }
        return bytes;
    }

    /**
     * Asks for transparent huge pages under a mapping before anything reads it:
     * {@code madvise(MADV_HUGEPAGE)}. A page of a file mapping is entered in the page tables on its
     * first read, and in a VM that is dear: mapping SD 1.5's 3.3 GB UNet file, already in the page
     * cache in 4 KiB pieces, took 1.3–1.8 s (62,000 faults of 16 pages each), part of every first
     * step. With the advice, a read that misses the cache reads the file in 2 MiB folios
     * ({@code do_sync_mmap_readahead} for a {@code VM_HUGEPAGE} mapping), and a file cached that way is
     * mapped 2 MiB per fault: the same 3.3 GB in 0.045 s, in this process and every later one. A file
     * already cached in small pieces keeps them until the kernel evicts them. Where the kernel has no
     * transparent huge pages the call fails once, and no mapping is advised after that.
     *
     * <p>Small mappings too: only a mapping of 2 MiB or more can enter a 2 MiB page at once, but the
     * first read of any mapping decides the folios of the 2 MiB of file around it. Unadvised, a layer
     * norm's few KiB, read before the projection beside it, were read ahead in small folios and kept
     * the safety checker's file (small tensors between 4 MiB ones) out of 2 MiB folios.
     *
     * @return whether the mapping was advised
     */
    static boolean adviseHugePages(ByteBuffer mapping) {
        if (PAGE_SIZE == 0 || hugePagesRefused || !mapping.isDirect() || mapping.capacity() == 0) {
            return false;
        }
        long[] range = pageRange(mapping);
        try {
            LibC.madvise(new Pointer(range[0]), new NativeLong(range[1] - range[0]), MADV_HUGEPAGE);
            return true;
        } catch (LastErrorException e) {
            hugePagesRefused = true; // the same answer for every mapping
            LOG.log(System.Logger.Level.DEBUG, "madvise(MADV_HUGEPAGE) failed (errno " + e.getErrorCode()
                    + "): weight files are mapped in small pages");
            return false;
        }
    }

    /** {@code [start, end)} of the whole pages under a direct buffer: a mapping starts and ends on page boundaries. */
    private static long[] pageRange(ByteBuffer mapping) {
        long address = Pointer.nativeValue(Native.getDirectBufferPointer(mapping));
        long start = address - Math.floorMod(address, PAGE_SIZE);
        long end = Math.floorDiv(address + mapping.capacity() + PAGE_SIZE - 1, PAGE_SIZE) * PAGE_SIZE;
        return new long[] {start, end};
    }

    /**
     * Writes {@code file} to disk and drops its pages from the page cache
     * ({@code fsync}, then {@code posix_fadvise(POSIX_FADV_DONTNEED)}), so that its first mapping,
     * advised by {@link #adviseHugePages}, reads it back in 2 MiB folios rather than finding the
     * 4 KiB pieces the writes left. For weight files this process has just written (the random
     * models); the next read costs one pass over the disk. Best effort: a failure changes only speed.
     */
    static void dropFromPageCache(Path file) {
        if (PAGE_SIZE == 0) {
            return;
        }
        try {
            int fd = LibC.open(file.toString(), O_RDONLY);
            try {
                LibC.fsync(fd); // dirty pages are not dropped
                int err = LibC.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
                if (err != 0) {
                    LOG.log(System.Logger.Level.DEBUG, "posix_fadvise(DONTNEED) of " + file + " failed: error " + err);
                }
            } finally {
                LibC.close(fd);
            }
        } catch (LastErrorException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot sync and drop " + file + " from the page cache: errno " + e.getErrorCode());
        }
    }

    /**
     * The file-backed ranges of this process's address space at one moment, from
     * {@code /proc/self/maps} ({@code start-end perms offset dev inode path}; inode 0 is anonymous
     * memory), sorted, with touching ranges joined (one file mapped in pieces, or two files back to
     * back, both count as file pages). Empty when the map cannot be read: nothing is then advised.
     */
    private record FileRanges(long[] from, long[] to, int count) {
        static FileRanges read() {
            List<String> lines;
            try {
                lines = Files.readAllLines(Path.of("/proc/self/maps"), StandardCharsets.ISO_8859_1);
            } catch (IOException | RuntimeException e) {
                return new FileRanges(new long[0], new long[0], 0);
            }
            long[] from = new long[lines.size()];
            long[] to = new long[lines.size()];
            int n = 0;
            for (String line : lines) {
                int dash = line.indexOf('-');
                int[] space = new int[4]; // ends of the range, perms, offset and dev fields
                int at = 0;
                for (int i = 0; i < space.length; i++) {
                    at = line.indexOf(' ', at + 1);
                    if (at < 0) {
                        break;
                    }
                    space[i] = at;
                }
                if (dash < 0 || at < 0) {
                    continue;
                }
                int inodeEnd = line.indexOf(' ', space[3] + 1);
                String inode = line.substring(space[3] + 1, inodeEnd < 0 ? line.length() : inodeEnd);
                if (inode.equals("0")) {
                    continue;
                }
                long a = Long.parseUnsignedLong(line, 0, dash, 16);
                long b = Long.parseUnsignedLong(line, dash + 1, space[0], 16);
                if (n > 0 && to[n - 1] == a) {
                    to[n - 1] = b; // the kernel lists ranges in address order
                } else {
                    from[n] = a;
                    to[n] = b;
                    n++;
                }
            }
            return new FileRanges(from, to, n);
        }

        boolean covers(long start, long end) {
            int i = Arrays.binarySearch(from, 0, count, start);
            if (i < 0) {
                i = -i - 2; // the last range starting before start
            }
            return i >= 0 && start < to[i] && end <= to[i]; // user-space addresses are below 2^47: signed order is address order
        }
    }
}
