package org.cyclediffusion.libtorch;

import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Structure;

/**
 * Gives the C heap's free memory back to the system between the networks of a one-shot edit:
 * glibc's {@code malloc_trim(0)}.
 *
 * <p>Why: the launcher starts the JVM with {@code GLIBC_TUNABLES} that make glibc serve large blocks
 * (under 128 MiB) from one heap and keep what is freed (README "LibTorch on the CPU": oneDNN reorders each large
 * convolution weight into a fresh buffer on every call, and mapping those per call cost the kernel
 * 0.6–1.0 s per full-size UNet step). What a network freed then stays resident after its last pass,
 * and the next network's buffers of other sizes land beside it: a 512² edit peaked at 8.0 GB against
 * 5.8 GB. Trimming when a network is done with (the same moment its weights' pages are released)
 * returns the free pages, wherever they lie in the heap, and keeps the reuse within each network.
 *
 * <p>Not below a bound, though ({@link #trimAbove}): a page handed back is a page the next network
 * faults in again, zeroed, and first touches are dear in a VM (0.6–2.4 s per GiB measured on the
 * development machine). At 256² what the UNet frees (under 1 GiB) is what the VAE decoder then
 * allocates, and keeping it made the edit 0.45 s faster at the same peak RSS; at 512² the UNet frees
 * more than that and the heap is trimmed as before.
 *
 * <p>Under glibc's default policy there is little to trim and the call costs a walk of the free lists.
 * Where the C library is not glibc, or JNA cannot load, it does nothing.
 */
final class NativeHeap {
    private static final System.Logger LOG = System.getLogger(NativeHeap.class.getName());
    private static final boolean BOUND;

    static {
        boolean bound = false;
        if (Platform.isLinux()) {
            try {
                Native.register(LibC.class, Platform.C_LIBRARY_NAME);
                bound = true;
            } catch (LinkageError | RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "the C heap is not trimmed between networks: malloc_trim is not callable (" + e + ")");
            }
        }
        BOUND = bound;
    }

    private static final class LibC {
        static native int malloc_trim(NativeLong pad);

        /** glibc 2.33 and later; older ones lack it, and the heap is then always trimmed. */
        static native MallInfo2.ByValue mallinfo2();
    }

    /** glibc's {@code struct mallinfo2}: ten {@code size_t} figures of the main heap. */
    @Structure.FieldOrder({"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"})
    public static class MallInfo2 extends Structure {
        public long arena;
        public long ordblks;
        public long smblks;
        public long hblks;
        public long hblkhd;
        public long usmblks;
        public long fsmblks;
        public long uordblks;
        /** Free bytes in the heap, its top included. */
        public long fordblks;
        public long keepcost;

        public static class ByValue extends MallInfo2 implements Structure.ByValue {
        }
    }

    private NativeHeap() {
    }

    /** {@code malloc_trim(0)}: whether glibc returned any memory (false also where it cannot be called). */
    static boolean trim() {
        return BOUND && LibC.malloc_trim(new NativeLong(0)) == 1;
    }

    /** Free bytes in the C heap ({@code mallinfo2().fordblks}), or -1 where glibc cannot tell. */
    static long freeBytes() {
        if (!BOUND) {
            return -1;
        }
        try {
            return LibC.mallinfo2().fordblks;
        } catch (UnsatisfiedLinkError e) {
            return -1;
        }
    }

    /**
     * Trims when the heap holds more than {@code keep} free bytes (or when that cannot be known): the
     * next network reuses what is kept. Whether it trimmed.
     */
    static boolean trimAbove(long keep) {
        long free = freeBytes();
        return (free < 0 || free > keep) && trim();
    }
}
