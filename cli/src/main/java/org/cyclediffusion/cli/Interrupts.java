package org.cyclediffusion.cli;

import java.io.PrintStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Ctrl-C (SIGINT) and SIGTERM at any moment end the run cleanly: the running command is asked to
 * stop at its next safe point (between two network calls: after loading, before each phase, after
 * each step, before writing); we wait for it to leave native code and close its sessions itself,
 * and only then exit, with 130 or 143 (128 + the signal, as shells report it). Nothing native is
 * ever closed under a thread still inside it, no partial output is committed, and one line says
 * what happened. A batch publishes item after item: each item's files and its results line are
 * one commit, the items finished before the interrupt stay, and the line says how to resume.
 *
 * <p>Why signal handlers and not only a shutdown hook: once the JVM starts shutting down it runs
 * every hook at the same time, and ONNX Runtime's own hook releases its native environment; with
 * a session still being created on the main thread that crashed the JVM (SIGSEGV in
 * {@code OrtSession.createSession}, an {@code hs_err} file). So SIGINT and SIGTERM are taken before
 * shutdown begins (SIGHUP too, exit 129), and {@code System.exit} is called only when no thread is
 * in native code. The shutdown hook stays for the other ways a JVM ends ({@code -Xrs}, an exit from
 * elsewhere) and does the same wait.
 *
 * <p>The wait is bounded ({@code cyclediffusion.interruptGraceSeconds}, default 120: one step of a
 * large model on a slow CPU); past it the process exits anyway and says so.
 */
final class Interrupts {
    private static final Interrupts INSTANCE = new Interrupts();

    /** Thrown at a safe point once an interrupt asked the command to stop. */
    static final class Cancelled extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Cancelled() {
            super("interrupted", null, false, false);
        }
    }

    private final Object lock = new Object();
    private volatile PrintStream err = System.err;
    private volatile boolean installed;
    private volatile boolean cancelled;
    private volatile boolean exiting;
    private volatile boolean committed;
    private boolean signalled;
    private volatile String phase = "start-up";
    /** What an interrupt leaves behind, for the note; null: one result, written whole or not at all. */
    private volatile Supplier<String> outcome;
    private CountDownLatch working;

    static Interrupts get() {
        return INSTANCE;
    }

    /** Installs the signal handlers and the shutdown hook once, first thing in {@code main}. */
    synchronized void install(PrintStream stderr) {
        err = stderr;
        if (!installed) {
            installed = true;
            handle("INT", Main.INTERRUPTED);
            handle("TERM", Main.TERMINATED);
            handle("HUP", 129); // the terminal closed: the same clean stop
            Runtime.getRuntime().addShutdownHook(new Thread(this::onShutdown, "cyclediffusion-interrupt"));
        }
    }

    @SuppressWarnings("removal")
    private void handle(String name, int exitCode) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> onSignal(exitCode));
        } catch (IllegalArgumentException e) {
            // the JVM keeps the signal (-Xrs) or the platform has none by that name: the hook remains
        }
    }

    /** On a signal's own thread: stop the work, wait for it, then exit while nothing runs natively. */
    private void onSignal(int exitCode) {
        synchronized (lock) {
            if (signalled) {
                err.println("cyclediffusion: still stopping (waiting for " + phase + " to end)");
                err.flush();
                return;
            }
            signalled = true;
        }
        stopAndWait();
        exiting = true;
        System.exit(exitCode);
    }

    /** The command begins work that the hook must wait for; {@link #end()} in a finally block. */
    void begin() {
        synchronized (lock) {
            working = new CountDownLatch(1);
            outcome = null;
            committed = false;
        }
    }

    /** The work left native code and closed what it opened. */
    void end() {
        CountDownLatch w;
        synchronized (lock) {
            w = working;
        }
        if (w != null) {
            w.countDown();
        }
    }

    /**
     * For work that publishes several results one after another (a batch): the note ends with
     * {@code outcome} instead of "no output is written". It is asked once the interrupt is taken,
     * when no {@link #commit} can run any more, so what it counts is final.
     */
    void outcome(Supplier<String> described) {
        outcome = described;
    }

    /** Records where the work is, for the note; throws {@link Cancelled} if it was interrupted. */
    void phase(String description) {
        phase = description;
        check();
    }

    /**
     * Holds at the start of a phase for {@code cyclediffusion.debug.phasePauseMillis} (default 0),
     * so that an interrupt can be aimed at any phase of a small, fast model: the tests send their
     * signals during this pause. Loading then still runs with the interrupt pending (the case that
     * used to crash in native code); the edit's phases stop at their next check.
     */
    void pause() {
        long millis = Long.getLong("cyclediffusion.debug.phasePauseMillis", 0);
        if (millis > 0 && !cancelled) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    void check() {
        if (cancelled) {
            throw new Cancelled();
        }
    }

    boolean cancelled() {
        return cancelled;
    }

    /** Runs the renames that publish results, unless an interrupt came first. */
    void commit(Runnable publish) {
        synchronized (lock) {
            check();
            publish.run();
            committed = true;
        }
    }

    /**
     * Ends the process with {@code code}, unless an interrupt is stopping it: then the signal's
     * thread exits with the signal's code once the work has ended, and this thread waits for it.
     */
    void exit(int code) {
        if (cancelled) {
            while (true) {
                try {
                    Thread.sleep(Long.MAX_VALUE);
                } catch (InterruptedException e) {
                    // keep waiting: the signal's thread ends the process
                }
            }
        }
        exiting = true;
        System.exit(code);
    }

    private void onShutdown() {
        if (exiting) {
            return;
        }
        stopAndWait();
    }

    private void stopAndWait() {
        CountDownLatch w;
        synchronized (lock) {
            cancelled = true;
            w = working;
        }
        Supplier<String> o = outcome;
        if (o == null && committed) {
            err.println("cyclediffusion: interrupted after the output was written");
            err.flush();
            return;
        }
        err.println("cyclediffusion: interrupted during " + phase + "; stopping, " + (o == null ? "no output is written" : o.get()));
        err.flush();
        if (w != null) {
            long grace = Long.getLong("cyclediffusion.interruptGraceSeconds", 120);
            try {
                if (!w.await(grace, TimeUnit.SECONDS)) {
                    err.println("cyclediffusion: still busy in " + phase + " after " + grace + " s; exiting anyway");
                    err.flush();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
