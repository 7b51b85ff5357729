package org.cyclediffusion.libtorch;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.cyclediffusion.core.CycleDiffusionException;

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

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new CycleDiffusionException("libtorch " + name + ": close failed", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
