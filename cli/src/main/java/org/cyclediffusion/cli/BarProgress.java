package org.cyclediffusion.cli;

import java.io.PrintWriter;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress on a terminal: the phases as lines, the denoising steps as a progress bar with the
 * elapsed and remaining time (me.tongfei:progressbar, drawn on stderr).
 */
final class BarProgress implements Progress {
    private final PrintWriter err = Main.STDERR;
    private ProgressBar bar;

    @Override
    public void phase(String description) {
        closeBar();
        if (description.equals("denoising")) {
            return; // the bar appears with the first step, when the total is known
        }
        err.println(description + "…");
        err.flush();
    }

    @Override
    public void step(int step, int total, int timestep) {
        if (bar == null) {
            bar = new ProgressBarBuilder().setTaskName("denoising").setInitialMax(total).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                    .setConsumer(new ConsoleProgressBarConsumer(System.err)).setUpdateIntervalMillis(200).build();
        }
        bar.stepTo(step + 1);
        bar.setExtraMessage("t=" + timestep);
    }

    @Override
    public void warn(PrintWriter w, String message) {
        if (bar != null) {
            System.err.print("\r");
        }
        Progress.super.warn(w, message);
    }

    private void closeBar() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }

    @Override
    public void close() {
        closeBar();
    }
}
