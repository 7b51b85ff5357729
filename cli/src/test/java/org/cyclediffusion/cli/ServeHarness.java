package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;

/** {@code cyclediffusion serve ARGS} in this JVM, as the command line runs it, until {@link #close}. */
final class ServeHarness implements AutoCloseable {
    final ServeCommand command;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();
    private final Thread thread;
    private volatile int exitCode = -1;

    ServeHarness(String... args) throws InterruptedException {
        CommandLine cl = Main.commandLine(new PrintWriter(out, true), new PrintWriter(err, true));
        command = (ServeCommand) cl.getSubcommands().get("serve").getCommand();
        List<String> all = new ArrayList<>(List.of("serve"));
        all.addAll(List.of(args));
        thread = new Thread(() -> exitCode = cl.execute(all.toArray(String[]::new)), "serve-under-test");
        thread.start();
        while (!command.started.await(100, TimeUnit.MILLISECONDS)) {
            if (!thread.isAlive()) {
                throw new IllegalStateException("serve exited with " + exitCode + ": " + err);
            }
        }
    }

    String url() {
        return command.server.url();
    }

    /** Stops as SIGTERM does (same close path) and returns the exit code. */
    int stop(long timeoutSeconds) throws InterruptedException {
        command.stop.countDown();
        thread.join(TimeUnit.SECONDS.toMillis(timeoutSeconds));
        if (thread.isAlive()) {
            throw new IllegalStateException("serve did not stop within " + timeoutSeconds + " s");
        }
        return exitCode;
    }

    @Override
    public void close() throws InterruptedException {
        if (thread.isAlive()) {
            stop(120);
        }
    }
}
