package org.cyclediffusion.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What a person sees on stderr while an edit runs: each phase as it begins (loading, encoding the
 * prompts, encoding the image, the steps with the remaining time, decoding, the safety checker,
 * writing). A progress bar when stderr is a terminal, plain lines otherwise (logs, pipes, CI),
 * nothing with {@code --quiet}.
 */
interface Progress extends AutoCloseable {
    Progress NONE = new Progress() {
        @Override
        public void phase(String description) {
        }

        @Override
        public void step(int step, int total, int timestep) {
        }
    };

    /** A phase begins, e.g. {@code encoding image}. */
    void phase(String description);

    /** Denoising step {@code step} (0-based) of {@code total} finished. */
    void step(int step, int total, int timestep);

    /** A warning for the person (a truncated prompt, an unchecked output). */
    default void warn(PrintWriter err, String message) {
        err.println("warning: " + message);
        err.flush();
    }

    @Override
    default void close() {
    }

    static Progress create(boolean quiet, PrintWriter err) {
        if (quiet) {
            return NONE;
        }
        return stderrIsTerminal() && err == Main.STDERR ? new BarProgress() : new LineProgress(err);
    }

    /** Whether fd 2 is a terminal: Linux says so through /proc; elsewhere a console means one. */
    static boolean stderrIsTerminal() {
        if (System.getenv("TERM") != null && System.getenv("TERM").equals("dumb")) {
            return false;
        }
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return System.console() != null;
        }
    }

    /** Seconds for people: {@code 4.2 s}, {@code 3:07}. */
    static String duration(double seconds) {
        if (seconds < 60) {
            return String.format(Locale.ROOT, "%.1f s", seconds);
        }
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
