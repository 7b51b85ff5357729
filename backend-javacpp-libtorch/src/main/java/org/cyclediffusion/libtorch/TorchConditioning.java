package org.cyclediffusion.libtorch;

import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.spi.Conditioning;

/** Encoder hidden states uploaded once per edit, on the UNet's device and in its dtype. */
final class TorchConditioning implements Conditioning {
    private final TorchUNet owner;
    private final Tensor hiddenStates;
    private final int batch;
    private boolean closed;

    /** Takes over one reference to {@code hiddenStates}, released by {@link #close()}. */
    TorchConditioning(TorchUNet owner, Tensor hiddenStates) {
        this.owner = owner;
        this.hiddenStates = hiddenStates;
        this.batch = Math.toIntExact(hiddenStates.size(0));
    }

    @Override
    public int batch() {
        return batch;
    }

    synchronized Tensor hiddenStates(TorchUNet user) {
        if (user != owner) {
            throw new CycleDiffusionException("this conditioning was prepared by another UNet; call condition() on the UNet that predicts");
        }
        if (closed) {
            throw new CycleDiffusionException("libtorch conditioning is closed");
        }
        return hiddenStates;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            hiddenStates.releaseReference();
        }
    }
}
