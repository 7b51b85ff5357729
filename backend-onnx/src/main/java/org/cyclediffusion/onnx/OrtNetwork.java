package org.cyclediffusion.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.cyclediffusion.core.CycleDiffusionException;

/**
 * One ONNX Runtime session with the signature it was checked against. Closing it is idempotent
 * and safe while other threads run it; running it afterwards fails with a message instead of
 * reaching freed native memory.
 */
final class OrtNetwork implements AutoCloseable {
    /** Sessions opened and not yet closed, process-wide: lets tests prove that failed opens leak nothing. */
    static final AtomicInteger LIVE_SESSIONS = new AtomicInteger();

    private final Path file;
    private final String role;
    private final OrtSession session;
    private final OrtSignature signature;
    private final Map<String, NodeInfo> inputs;
    private final Map<String, NodeInfo> outputs;
    private volatile boolean closed;
    /** Runs in progress (guarded by itself); {@link #close()} terminates them and waits until it is empty. */
    private final Set<OrtSession.RunOptions> running = new java.util.HashSet<>();

    private OrtNetwork(Path file, String role, OrtSession session, OrtSignature signature, Map<String, NodeInfo> inputs,
            Map<String, NodeInfo> outputs) {
        this.file = file;
        this.role = role;
        this.session = session;
        this.signature = signature;
        this.inputs = inputs;
        this.outputs = outputs;
    }

    /** Opens the file and checks its signature; the session is closed again if the check fails. */
    static OrtNetwork open(OrtSessionFactory factory, Path file, String role, List<OrtSignature> accepted) {
        return wrap(factory.open(file), file, role, accepted);
    }

    /** Takes ownership of a session and checks its signature (closing it if the check fails). */
    static OrtNetwork wrap(OrtSession session, Path file, String role, List<OrtSignature> accepted) {
        LIVE_SESSIONS.incrementAndGet();
        try {
            Map<String, NodeInfo> in = session.getInputInfo();
            Map<String, NodeInfo> out = session.getOutputInfo();
            OrtSignature s = OrtSignature.require(file, role, in, out, accepted);
            return new OrtNetwork(file, role, session, s, in, out);
        } catch (OrtException | RuntimeException e) {
            try {
                LIVE_SESSIONS.decrementAndGet();
                OrtNativeCalls.release(() -> {
                    session.close();
                    return null;
                });
            } catch (OrtException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new CycleDiffusionException(file + ": cannot read the signature of the " + role + " network: " + e.getMessage(), e);
        }
    }

    Path file() {
        return file;
    }

    /** The accepted signature this network declared. */
    OrtSignature signature() {
        return signature;
    }

    TensorInfo input(String name) {
        return (TensorInfo) inputs.get(name).getInfo();
    }

    TensorInfo output(String name) {
        return (TensorInfo) outputs.get(name).getInfo();
    }

    boolean hasOutput(String name) {
        return outputs.containsKey(name);
    }

    Set<String> outputNames() {
        return outputs.keySet();
    }

    /**
     * Runs the network, requesting only {@code requested} outputs. The caller closes the result.
     * Safe against a concurrent {@link #close()}: a run either starts before the close (and is
     * terminated at its next node, then waited for) or fails with a "closed" message.
     */
    OrtSession.Result run(Map<String, ? extends OnnxTensorLike> feed, Set<String> requested) {
        try {
            return OrtNativeCalls.run(toString(), session, feed, requested, this::started, this::ended);
        } catch (OrtException e) {
            if (OrtNativeCalls.terminated(e)) {
                throw closed ? closedException() : new CycleDiffusionException(this + ": stopped, the JVM is shutting down", e);
            }
            throw OrtErrors.run("the " + role + " network (" + file + ")", e);
        }
    }

    private void started(OrtSession.RunOptions run) {
        synchronized (running) {
            if (closed) {
                throw closedException();
            }
            running.add(run);
        }
    }

    private void ended(OrtSession.RunOptions run) {
        synchronized (running) {
            if (running.remove(run) && running.isEmpty()) {
                running.notifyAll();
            }
        }
    }

    void ensureOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private CycleDiffusionException closedException() {
        return new CycleDiffusionException(file + ": the " + role + " network is closed (its models were closed)");
    }

    boolean isClosed() {
        return closed;
    }

    /**
     * Frees the session. Runs in progress on other threads are asked to terminate and waited for
     * first: ONNX Runtime must never free a session a thread is still inside.
     */
    @Override
    public void close() {
        synchronized (running) {
            if (closed) {
                return;
            }
            closed = true;
            running.forEach(OrtNativeCalls::terminate);
            boolean interrupted = false;
            while (!running.isEmpty()) {
                try {
                    running.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        LIVE_SESSIONS.decrementAndGet();
        try {
            OrtNativeCalls.release(() -> {
                session.close();
                return null;
            });
        } catch (OrtException e) {
            throw new CycleDiffusionException(file + ": closing the ONNX Runtime session failed: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return role + " (" + file + ")";
    }
}
