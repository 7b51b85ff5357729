package org.cyclediffusion.libtorch;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.io.Closeables;

/**
 * What every network of this backend shares: its context, the native resources it owns (released
 * once, in reverse order, by {@link #close()}), and forward passes that fail cleanly once closed
 * instead of touching freed memory. Calls are serialised: one component runs one pass at a time.
 */
abstract class TorchComponent implements AutoCloseable {
    private final String name;
    private final TorchContext context;
    private final List<AutoCloseable> resources;
    private boolean closed;

    TorchComponent(String name, TorchContext context, AutoCloseable... resources) {
        this.name = name;
        this.context = context;
        this.resources = new ArrayList<>(List.of(resources));
    }

    final TorchContext context() {
        return context;
    }

    /** One forward pass under the context's guard (inference mode, one pointer scope). */
    final synchronized <T> T run(Supplier<T> body) {
        ensureOpen();
        return context.run(body);
    }

    final synchronized void ensureOpen() {
        if (closed) {
            throw new CycleDiffusionException("libtorch " + name + " (" + context + ") is closed");
        }
    }

    /**
     * Drops the resident pages of this component's mapped weights whose names pass {@code names}
     * ({@link TorchWeights#releaseResident}); the component stays usable. Not under this component's
     * lock: a pass running meanwhile only faults the pages in again.
     *
     * @return the bytes of mapping advised
     */
    final long releaseResidentWeights(Predicate<String> names) {
        long bytes = 0;
        for (AutoCloseable r : resources) {
            if (r instanceof TorchWeights w) {
                bytes += w.releaseResident(names);
            }
        }
        return bytes;
    }

    final String name() {
        return name;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<AutoCloseable> lastFirst = new ArrayList<>(resources);
        Collections.reverse(lastFirst);
        try {
            Closeables.closeAll(lastFirst);
        } catch (RuntimeException e) {
            throw new CycleDiffusionException("libtorch " + name + ": close failed", e);
        }
    }
}
