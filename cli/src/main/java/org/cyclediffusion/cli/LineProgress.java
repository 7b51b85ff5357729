package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.util.Locale;

/** Progress as plain lines, one per phase and per step with the time left: readable in logs. */
final class LineProgress implements Progress {
    private final PrintWriter err;
    private long stepsStart;

    LineProgress(PrintWriter err) {
        this.err = err;
    }

    @Override
    public void phase(String description) {
        err.println(description);
        err.flush();
        if (description.equals("denoising")) {
            stepsStart = System.nanoTime();
        }
    }

    @Override
    public void step(int step, int total, int timestep) {
        double perStep = (System.nanoTime() - stepsStart) / 1e9 / (step + 1);
        err.println(String.format(Locale.ROOT, "step %d/%d (t=%d) %.2f s/step, %s left", step + 1, total, timestep, perStep,
                Progress.duration(perStep * (total - step - 1))));
        err.flush();
    }
}
