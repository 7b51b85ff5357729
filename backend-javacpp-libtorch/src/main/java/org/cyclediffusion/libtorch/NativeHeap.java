package org.cyclediffusion.libtorch;

import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;

/**
 * Gives the C heap's free memory back to the system between the networks of a one-shot edit:
 * glibc's {@code malloc_trim(0)}.
 *
 * <p>Why: the launcher starts the JVM with {@code GLIBC_TUNABLES} that make glibc serve large blocks
 * from one heap and keep what is freed (README "LibTorch on the CPU": oneDNN reorders each large
 * convolution weight into a fresh buffer on every call, and mapping those per call cost the kernel
 * 0.6–1.0 s per full-size UNet step). What a network freed then stays resident after its last pass,
 * and the next network's buffers of other sizes land beside it: a 512² edit peaked at 8.0 GB against
 * 5.8 GB. Trimming when a network is done with (the same moment its weights' pages are released)
 * returns the free pages, wherever they lie in the heap, and keeps the reuse within each network.
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
    }

    private NativeHeap() {
    }

    /** {@code malloc_trim(0)}: whether glibc returned any memory (false also where it cannot be called). */
    static boolean trim() {
        return BOUND && LibC.malloc_trim(new NativeLong(0)) == 1;
    }
}
