package org.cyclediffusion.cli;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.cyclediffusion.core.batch.BatchItem;
import org.cyclediffusion.core.batch.ItemResult;

/**
 * A terminal progress bar (me.tongfei:progressbar) on stderr: items done/total, elapsed, ETA from
 * the median item time, and the current item's id and step as the bar's message.
 */
final class BarBatchProgress implements BatchProgress {
    private final ItemTimes times = new ItemTimes();
    private final ProgressBar bar;
    private volatile long itemStart = System.nanoTime();
    private volatile int done;
    private BatchItem item;
    private int failed;

    BarBatchProgress(int total) {
        PrintStream err = System.err;
        this.bar = new ProgressBarBuilder().setTaskName("batch").setInitialMax(total).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setConsumer(new ConsoleProgressBarConsumer(err)).setUpdateIntervalMillis(250).setUnit(" items", 1)
                .setEtaFunction(state -> times.eta(total - done, (System.nanoTime() - itemStart) / 1e6)).build();
    }

    @Override
    public void started(int index, BatchItem it) {
        item = it;
        itemStart = System.nanoTime();
        bar.setExtraMessage(it.id());
    }

    @Override
    public void step(int step, int totalSteps) {
        bar.setExtraMessage(String.format(Locale.ROOT, "%s step %d/%d", item.id(), step + 1, totalSteps));
    }

    @Override
    public void finished(ItemResult result) {
        times.add(result.elapsedMs());
        done++;
        if (!result.ok()) {
            failed++;
        }
        bar.stepTo(done);
        bar.setExtraMessage(failed == 0 ? "" : failed + " failed");
    }

    @Override
    public void close() {
        bar.close();
    }
}
