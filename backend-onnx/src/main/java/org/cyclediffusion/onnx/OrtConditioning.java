package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxTensor;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.spi.Conditioning;

/** Encoder hidden states as a ready ONNX Runtime tensor in the UNet's dtype, fed unchanged at every step. */
final class OrtConditioning implements Conditioning {
    private final OrtUNet owner;
    private final OnnxTensor tensor;
    private final int batch;
    private volatile boolean closed;

    OrtConditioning(OrtUNet owner, OnnxTensor tensor, int batch) {
        this.owner = owner;
        this.tensor = tensor;
        this.batch = batch;
    }

    OrtUNet owner() {
        return owner;
    }

    OnnxTensor tensor() {
        if (closed) {
            throw new CycleDiffusionException("the conditioning (encoder hidden states) is closed; prepare a new one with UNet.condition");
        }
        return tensor;
    }

    @Override
    public int batch() {
        return batch;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            tensor.close();
        }
    }
}
