package org.cyclediffusion.cli;

import java.io.PrintWriter;
import org.cyclediffusion.core.batch.BatchItem;
import org.cyclediffusion.core.batch.ItemResult;

/**
 * Progress of a batch on stderr: items done of total, the current item's step, elapsed time and an
 * ETA from the median item time ({@link ItemTimes}). A bar on a terminal, plain lines otherwise
 * (a log file, CI), nothing with {@code --quiet}.
 */
interface BatchProgress extends AutoCloseable {
    /** Item {@code index} (0-based among the items this run does) starts. */
    void started(int index, BatchItem item);

    void step(int step, int totalSteps);

    void finished(ItemResult result);

    @Override
    void close();

    static BatchProgress create(boolean quiet, int total, PrintWriter err) {
        if (quiet) {
            return NONE;
        }
        return System.console() != null ? new BarBatchProgress(total) : new PlainBatchProgress(total, err);
    }

    BatchProgress NONE = new BatchProgress() {
        @Override
        public void started(int index, BatchItem item) {
        }

        @Override
        public void step(int step, int totalSteps) {
        }

        @Override
        public void finished(ItemResult result) {
        }

        @Override
        public void close() {
        }
    };
}
