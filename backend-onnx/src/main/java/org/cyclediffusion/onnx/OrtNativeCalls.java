package org.cyclediffusion.onnx;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.cyclediffusion.core.CycleDiffusionException;

/**
 * Every call of this backend into ONNX Runtime's native code that can take long (session creation,
 * a run) or that frees native memory (closing a session) passes through here, so that the JVM's
 * shutdown can wait for them.
 *
 * <p>Why: on Ctrl-C the JVM runs its shutdown hooks and then calls the C library's {@code exit},
 * which destroys ONNX Runtime's static state, while a thread may still be inside
 * {@code OrtSession.createSession} or {@code run}; ONNX Runtime's own Java hook even releases the
 * native environment under it. Both crashed the JVM (SIGSEGV in libonnxruntime, issue 9). Our hook
 * ({@link #drain}, installed by {@link OrtRuntime}) stops new work, asks running sessions to
 * terminate at their next node, and waits until no thread is in native code; after that, releases
 * are skipped (the process is ending and the OS takes the memory back) and new work is refused.
 */
final class OrtNativeCalls {
    private static final ReentrantLock LOCK = new ReentrantLock();
    private static final Condition IDLE = LOCK.newCondition();
    private static final Set<OrtSession.RunOptions> RUNNING = new HashSet<>();
    private static int inFlight;
    /** The JVM is shutting down: no new session or run starts. */
    private static boolean draining;
    /** Drained: nothing may enter native code any more, not even a release. */
    private static boolean sealed;

    private OrtNativeCalls() {
    }

    /** Native work that may take long; refused once the JVM shuts down. */
    interface Work<T> {
        T call() throws OrtException;
    }

    /** Runs {@code work} as an in-flight native call; {@code what} names it in the refusal during shutdown. */
    static <T> T work(String what, Work<T> work) throws OrtException {
        enter(what);
        try {
            return work.call();
        } finally {
            exit();
        }
    }

    /**
     * Runs a session with its own {@link OrtSession.RunOptions}, registered so that the shutdown can
     * terminate it; {@code onStart} receives the options first (the network's own close terminates
     * its runs through them), {@code onEnd} after the run returned and before they are freed.
     */
    static OrtSession.Result run(String what, OrtSession session, java.util.Map<String, ? extends ai.onnxruntime.OnnxTensorLike> feed,
            Set<String> requested, java.util.function.Consumer<OrtSession.RunOptions> onStart,
            java.util.function.Consumer<OrtSession.RunOptions> onEnd) throws OrtException {
        enter(what);
        try (OrtSession.RunOptions options = new OrtSession.RunOptions()) {
            LOCK.lock();
            try {
                RUNNING.add(options);
            } finally {
                LOCK.unlock();
            }
            try {
                onStart.accept(options);
                return session.run(feed, requested, options);
            } finally {
                onEnd.accept(options);
                LOCK.lock();
                try {
                    RUNNING.remove(options);
                } finally {
                    LOCK.unlock();
                }
            }
        } finally {
            exit();
        }
    }

    /**
     * Frees native memory through {@code release}, unless the shutdown has drained: then nothing is
     * called (the C library's exit is tearing ONNX Runtime down) and false is returned.
     */
    static boolean release(Work<Void> release) throws OrtException {
        LOCK.lock();
        try {
            if (sealed) {
                return false;
            }
            inFlight++;
        } finally {
            LOCK.unlock();
        }
        try {
            release.call();
            return true;
        } finally {
            exit();
        }
    }

    private static void enter(String what) {
        LOCK.lock();
        try {
            if (draining) {
                throw new CycleDiffusionException(what + ": not started, the JVM is shutting down");
            }
            inFlight++;
        } finally {
            LOCK.unlock();
        }
    }

    private static void exit() {
        LOCK.lock();
        try {
            if (--inFlight == 0) {
                IDLE.signalAll();
            }
        } finally {
            LOCK.unlock();
        }
    }

    /** Whether a run ended because it was asked to terminate (ONNX Runtime's status for a set terminate flag). */
    static boolean terminated(OrtException e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("terminate flag");
    }

    /**
     * The shutdown hook's work: refuse new work, terminate the runs in progress, wait until every
     * native call returned, then seal. A session being created cannot be interrupted; the wait lasts
     * until it is created (seconds for a large UNet).
     */
    static void drain() {
        LOCK.lock();
        try {
            draining = true;
            for (OrtSession.RunOptions r : RUNNING) {
                terminate(r);
            }
            while (inFlight > 0) {
                IDLE.awaitUninterruptibly();
            }
            sealed = true;
        } finally {
            LOCK.unlock();
        }
    }

    /** Sets the terminate flag of a registered (hence not yet freed) run. */
    static void terminate(OrtSession.RunOptions r) {
        try {
            r.setTerminate(true);
        } catch (OrtException e) {
            // The run then finishes normally; waiting for it is still safe.
        }
    }
}
