package org.cyclediffusion.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The command line as a separate JVM, as a person runs it: {@code java -cp <test class path>
 * org.cyclediffusion.cli.Main ...} in a working directory of the test's choosing, with stderr read
 * line by line as it comes (to aim signals at a phase) and real signals sent with {@code kill}.
 *
 * <p>SIGINT and SIGTERM are reset to their default disposition in the child ({@code env
 * --default-signal}): a JVM started in the background by a non-interactive shell inherits SIGINT
 * ignored, and the JVM keeps an ignored SIGINT ignored, as every Unix program does.
 */
final class CliProcess implements AutoCloseable {
    record Result(int code, String out, String err, double seconds) {
    }

    private final Process process;
    private final List<String> errLines = new ArrayList<>();
    private final StringBuilder out = new StringBuilder();
    private final Thread errReader;
    private final Thread outReader;
    private final long started = System.nanoTime();

    private CliProcess(Process process) {
        this.process = process;
        this.errReader = reader(process.getErrorStream(), line -> {
            synchronized (errLines) {
                errLines.add(line);
                errLines.notifyAll();
            }
        });
        this.outReader = reader(process.getInputStream(), line -> {
            synchronized (out) {
                out.append(line).append('\n');
            }
        });
    }

    static CliProcess start(Path workDir, List<String> javaOptions, String... args) {
        return start(workDir, java.util.Map.of(), javaOptions, args);
    }

    /** As {@link #start(Path, List, String...)} with {@code env} added to the child's environment. */
    static CliProcess start(Path workDir, java.util.Map<String, String> env, List<String> javaOptions, String... args) {
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/env"))) {
            cmd.addAll(List.of("/usr/bin/env", "--default-signal=INT,TERM,HUP"));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx1g");
        cmd.addAll(javaOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().remove("TERM");
        pb.environment().putAll(env);
        try {
            return new CliProcess(pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs to the end (at most 300 s). */
    static Result run(Path workDir, String... args) {
        return run(workDir, java.util.Map.of(), args);
    }

    /** As {@link #run(Path, String...)} with {@code env} added to the child's environment. */
    static Result run(Path workDir, java.util.Map<String, String> env, String... args) {
        try (CliProcess p = start(workDir, env, List.of(), args)) {
            return p.await(300);
        }
    }

    private static Thread reader(java.io.InputStream in, java.util.function.Consumer<String> sink) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    sink.accept(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        }, "cli-process-reader");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits until a stderr line matches; false if the process ended or the time ran out first. */
    boolean awaitErrLine(Predicate<String> matches, long timeoutSeconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        synchronized (errLines) {
            while (true) {
                if (errLines.stream().anyMatch(matches)) {
                    return true;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || (!process.isAlive() && !errReader.isAlive())) {
                    return false;
                }
                errLines.wait(Math.max(1, Math.min(200, TimeUnit.NANOSECONDS.toMillis(left))));
            }
        }
    }

    /** Sends a signal by name ({@code INT}, {@code TERM}) with kill(1). */
    void signal(String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start();
        if (kill.waitFor() != 0) {
            throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed");
        }
    }

    Result await(long timeoutSeconds) {
        try {
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("the CLI did not end within " + timeoutSeconds + " s; stderr so far:\n" + err());
            }
            errReader.join(10_000);
            outReader.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        String o;
        synchronized (out) {
            o = out.toString();
        }
        return new Result(process.exitValue(), o, err(), (System.nanoTime() - started) / 1e9);
    }

    String err() {
        synchronized (errLines) {
            return String.join("\n", errLines) + (errLines.isEmpty() ? "" : "\n");
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }
}
