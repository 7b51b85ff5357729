package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.spi.EditPhase;

/** The progress listener asked to stop. */
public class EditCancelledException extends CycleDiffusionException {
    private static final long serialVersionUID = 1L;

    public EditCancelledException(int step, int total) {
        super("edit cancelled by the progress listener after step " + (step + 1) + " of " + total);
    }

    public EditCancelledException(EditPhase before) {
        super("edit cancelled by the progress listener before " + before.description());
    }
}
