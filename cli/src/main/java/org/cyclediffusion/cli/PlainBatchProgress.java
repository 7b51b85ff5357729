package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import org.cyclediffusion.core.batch.BatchItem;
import org.cyclediffusion.core.batch.ItemResult;

/**
 * Progress as lines for a log: one when an item finishes, and one for the current item's step at
 * most every {@link #STEP_LINE_EVERY_MILLIS} (a long item still shows it is alive, a fast batch
 * does not flood the log).
 */
final class PlainBatchProgress implements BatchProgress {
    static final long STEP_LINE_EVERY_MILLIS = 10_000;

    private final int total;
    private final PrintWriter err;
    private final ItemTimes times = new ItemTimes();
    private final long start = System.nanoTime();
    private int index;
    private BatchItem item;
    private long itemStart;
    private long lastLine;
    private int done;

    PlainBatchProgress(int total, PrintWriter err) {
        this.total = total;
        this.err = err;
    }

    @Override
    public void started(int i, BatchItem it) {
        index = i;
        item = it;
        itemStart = System.nanoTime();
        lastLine = itemStart;
    }

    @Override
    public void step(int step, int totalSteps) {
        long now = System.nanoTime();
        if ((now - lastLine) / 1_000_000 >= STEP_LINE_EVERY_MILLIS) {
            lastLine = now;
            err.printf(Locale.ROOT, "batch: [%d/%d] %s step %d/%d; %s%n", index + 1, total, item.id(), step + 1, totalSteps, clock(now));
            err.flush();
        }
    }

    @Override
    public void finished(ItemResult result) {
        done++;
        times.add(result.elapsedMs());
        long now = System.nanoTime();
        err.printf(Locale.ROOT, "batch: [%d/%d] %s %s in %.1f s%s; %s%n", done, total, result.id(), result.status(), result.elapsedMs() / 1000,
                result.ok() ? "" : ": " + result.error(), clock(now));
        err.flush();
    }

    private String clock(long now) {
        String elapsed = ItemTimes.format(Duration.ofNanos(now - start));
        int remaining = total - done;
        double current = item != null && done < index + 1 ? (now - itemStart) / 1e6 : 0;
        return "elapsed " + elapsed + times.eta(remaining, current).map(d -> ", ETA " + ItemTimes.format(d)).orElse("");
    }

    @Override
    public void close() {
        err.flush();
    }
}
