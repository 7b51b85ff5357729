package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxTensor;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.spi.Conditioning;

/**
 * Encoder hidden states as a ready ONNX Runtime tensor in the UNet's dtype, fed unchanged at every
 * step (created once per edit: no copy of the conditioning per step). A run holds it through
 * {@link #acquire()}/{@link #release()}, so a close from another thread frees the native tensor only
 * after the last run that reads it returned.
 */
final class OrtConditioning implements Conditioning {
    private final OrtUNet owner;
    private final OnnxTensor tensor;
    private final int batch;
    private boolean closed;
    private int users;

    OrtConditioning(OrtUNet owner, OnnxTensor tensor, int batch) {
        this.owner = owner;
        this.tensor = tensor;
        this.batch = batch;
    }

    OrtUNet owner() {
        return owner;
    }

    /** The tensor, held until {@link #release()}. */
    synchronized OnnxTensor acquire() {
        if (closed) {
            throw new CycleDiffusionException("the conditioning (encoder hidden states) is closed; prepare a new one with UNet.condition");
        }
        users++;
        return tensor;
    }

    synchronized void release() {
        if (--users == 0 && closed) {
            tensor.close();
        }
    }

    @Override
    public int batch() {
        return batch;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            if (users == 0) {
                tensor.close();
            }
        }
    }
}
