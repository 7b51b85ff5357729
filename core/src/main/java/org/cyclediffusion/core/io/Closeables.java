package org.cyclediffusion.core.io;

import java.util.Arrays;
import java.util.function.BiConsumer;
import org.cyclediffusion.core.CycleDiffusionException;

/**
 * Closing several resources so that one failing does not leave the others open, the way
 * try-with-resources treats its resources: every resource is closed, the first failure is the one
 * reported and the later ones travel with it as suppressed exceptions. Unlike try-with-resources
 * the order is the caller's (iteration order; reverse a list of resources opened in sequence to
 * close the last one first) and null elements are skipped, so a slot that was never filled needs
 * no check.
 */
public final class Closeables {
    private Closeables() {
    }

    /**
     * Closes every non-null resource in iteration order, also when earlier ones throw. If any close
     * throws, the first failure is thrown once all are closed, with the later failures added to it as
     * suppressed. An unchecked exception or an error is thrown as it is; a checked exception (the
     * {@code throws Exception} of {@link AutoCloseable#close}) is wrapped in a
     * {@link CycleDiffusionException} that names the resource, and the later failures (as they
     * are, checked or not) are added to that wrapper.
     */
    public static void closeAll(Iterable<? extends AutoCloseable> resources) {
        Throwable[] first = {null};
        closeEach(resources, (r, e) -> {
            if (first[0] == null) {
                first[0] = e instanceof RuntimeException || e instanceof Error ? e
                        : new CycleDiffusionException("closing " + r + " failed: " + e.getMessage(), e);
            } else {
                suppress(first[0], e);
            }
        });
        if (first[0] instanceof RuntimeException e) {
            throw e;
        }
        if (first[0] != null) {
            throw (Error) first[0];
        }
    }

    /** {@link #closeAll(Iterable)} over the arguments, in their order. */
    public static void closeAll(AutoCloseable... resources) {
        closeAll(Arrays.asList(resources));
    }

    /**
     * Closes every non-null resource in iteration order after {@code primary} has happened (the
     * clean-up of a failed construction), adding each failure to {@code primary} as suppressed;
     * nothing is thrown. Returns {@code primary} so that a caller can write
     * {@code throw closeAfter(e, opened)}.
     */
    public static <T extends Throwable> T closeAfter(T primary, Iterable<? extends AutoCloseable> resources) {
        closeEach(resources, (r, e) -> suppress(primary, e));
        return primary;
    }

    /** {@link #closeAfter(Throwable, Iterable)} over the arguments, in their order. */
    public static <T extends Throwable> T closeAfter(T primary, AutoCloseable... resources) {
        return closeAfter(primary, Arrays.asList(resources));
    }

    /** Closes every non-null resource in order, handing each failure with its resource to {@code failed}. */
    private static void closeEach(Iterable<? extends AutoCloseable> resources, BiConsumer<AutoCloseable, Throwable> failed) {
        for (AutoCloseable r : resources) {
            if (r == null) {
                continue;
            }
            try {
                r.close();
            } catch (Throwable e) {
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt(); // reported, not thrown: the thread keeps its interrupt
                }
                failed.accept(r, e);
            }
        }
    }

    /** A resource that rethrows the failure it was closed after must not be suppressed into itself (addSuppressed refuses that). */
    private static void suppress(Throwable primary, Throwable e) {
        if (e != primary) {
            primary.addSuppressed(e);
        }
    }
}
