package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link NativeHeap#trim} gives back what LibTorch freed into a heap that keeps its free memory (the
 * launcher's {@code GLIBC_TUNABLES}: no mmap, no trimming). The policy is set here for this process
 * with {@code mallopt}, the same settings, and restored after.
 */
class NativeHeapTest {
    private static final int M_TRIM_THRESHOLD = -1;
    private static final int M_MMAP_THRESHOLD = -3;
    private static final int M_MMAP_MAX = -4;

    private static final class LibC {
        static native int mallopt(int param, int value);
    }

    @BeforeAll
    static void load() {
        TorchNatives.load();
    }

    @Test
    void trimReturnsWhatAKeepingHeapHeld() throws IOException {
        Assumptions.assumeTrue(Platform.isLinux(), "glibc's malloc_trim: Linux only");
        try {
            Native.register(LibC.class, Platform.C_LIBRARY_NAME);
        } catch (LinkageError e) {
            Assumptions.abort("no mallopt in this C library (" + e + ")");
        }
        long mib = 1 << 20;
        try {
            assertTrue(LibC.mallopt(M_TRIM_THRESHOLD, Integer.MAX_VALUE) == 1 && LibC.mallopt(M_MMAP_MAX, 0) == 1, "mallopt accepted");
            long before = rssBytes();
            // 16 blocks of 3 MiB: each fits a thread arena's heap, as activations do
            Tensor[] blocks = new Tensor[16];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = torch.empty(3 * mib / 4).fill_(new Scalar(1.0f));
            }
            long held = rssBytes();
            for (Tensor t : blocks) {
                t.close();
            }
            long afterFree = rssBytes();
            assertTrue(held - before >= 40 * mib, "the blocks were resident: " + (held - before) / mib + " MiB");
            assertTrue(afterFree - before >= 40 * mib, "a keeping heap holds them after free: " + (afterFree - before) / mib + " MiB");
            assertTrue(NativeHeap.trim(), "malloc_trim returned memory");
            long afterTrim = rssBytes();
            assertTrue(afterFree - afterTrim >= 40 * mib, "trim gave back " + (afterFree - afterTrim) / mib + " MiB of 48");
        } finally {
            LibC.mallopt(M_MMAP_MAX, 65536);
            LibC.mallopt(M_MMAP_THRESHOLD, 32 << 20);
            LibC.mallopt(M_TRIM_THRESHOLD, 128 << 10);
        }
    }

    private static long rssBytes() throws IOException {
        String[] statm = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
        return Long.parseLong(statm[1]) * 4096;
    }
}
