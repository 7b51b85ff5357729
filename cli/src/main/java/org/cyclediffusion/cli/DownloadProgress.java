package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.util.Locale;
import org.cyclediffusion.core.hub.DownloadListener;

/**
 * Downloads on stderr: on a terminal one line per file redrawn in place with a bar, bytes and
 * speed; otherwise (a log, a pipe) plain lines when a file starts, resumes and ends.
 */
final class DownloadProgress implements DownloadListener {
    private static final int BAR = 30;
    private static final long REDRAW_NANOS = 200_000_000L;

    private final PrintWriter err;
    private final boolean terminal;
    private long startNanos;
    private long startBytes;
    private long total;
    private long lastDraw;

    DownloadProgress(PrintWriter err, boolean terminal) {
        this.err = err;
        this.terminal = terminal;
    }

    @Override
    public void started(String path, long alreadyHave, long total) {
        this.startNanos = System.nanoTime();
        this.startBytes = alreadyHave;
        this.total = total;
        this.lastDraw = 0;
        if (!terminal) {
            err.println("downloading " + path + " (" + bytes(total) + (alreadyHave > 0 ? ", resuming at " + bytes(alreadyHave) : "") + ")");
            err.flush();
        }
    }

    @Override
    public void progressed(String path, long have) {
        long now = System.nanoTime();
        if (!terminal || (now - lastDraw < REDRAW_NANOS && have != total)) {
            return;
        }
        lastDraw = now;
        double seconds = Math.max(1e-3, (now - startNanos) / 1e9);
        String speed = bytes((long) ((have - startBytes) / seconds)) + "/s";
        String bar = "";
        if (total > 0) {
            int filled = (int) (BAR * have / total);
            bar = "[" + "#".repeat(filled) + " ".repeat(BAR - filled) + "] ";
        }
        err.print("\r" + path + " " + bar + bytes(have) + (total > 0 ? " / " + bytes(total) : "") + "  " + speed + "   ");
        err.flush();
    }

    @Override
    public void resuming(String path, long have, String reason) {
        err.println((terminal ? "\r\n" : "") + "connection lost in " + path + " at " + bytes(have) + " (" + reason + "); resuming");
        err.flush();
    }

    @Override
    public void finished(String path) {
        if (total != 0 || startNanos != 0) {
            double seconds = Math.max(1e-3, (System.nanoTime() - startNanos) / 1e9);
            err.println((terminal ? "\r" : "") + "downloaded " + path + " (" + bytes(total) + String.format(Locale.ROOT, ", %.1f s)", seconds)
                    + (terminal ? "          " : ""));
            err.flush();
        }
        startNanos = 0;
        total = 0;
    }

    static String bytes(long n) {
        if (n < 0) {
            return "size unknown";
        }
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
