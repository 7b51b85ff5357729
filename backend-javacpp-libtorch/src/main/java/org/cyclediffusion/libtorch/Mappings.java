package org.cyclediffusion.libtorch;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;

/**
 * Unmaps a memory-mapped buffer now instead of at some later garbage collection, so the pages of a
 * weight file leave the process's resident set as soon as their copy exists (Java has no public
 * unmap; {@code sun.misc.Unsafe.invokeCleaner} of the {@code jdk.unsupported} module is the
 * supported way since Java 9). Where it is unavailable the buffer is left to the collector.
 * The caller guarantees that nothing reads the buffer afterwards.
 */
final class Mappings {
    private static final Object UNSAFE;
    private static final Method INVOKE_CLEANER;

    static {
        Object unsafe = null;
        Method invokeCleaner = null;
        try {
            Class<?> c = Class.forName("sun.misc.Unsafe");
            Field f = c.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            unsafe = f.get(null);
            invokeCleaner = c.getMethod("invokeCleaner", ByteBuffer.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            unsafe = null;
            invokeCleaner = null;
        }
        UNSAFE = unsafe;
        INVOKE_CLEANER = invokeCleaner;
    }

    private Mappings() {
    }

    /** Releases a mapping returned by {@link TensorSource#buffer}; false if it must wait for the collector. */
    static boolean unmap(ByteBuffer mapped) {
        if (INVOKE_CLEANER == null || !mapped.isDirect() || mapped.capacity() == 0) {
            return false;
        }
        try {
            INVOKE_CLEANER.invoke(UNSAFE, mapped);
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }
}
