package org.cyclediffusion.libtorch.unet;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ShapeRecorder;

/**
 * Hands out the loaded weights (already validated against the {@link ShapeRecorder}'s list). Each
 * one is a new handle on the caller's tensor (same storage, no copy), retained so that neither an
 * enclosing {@code PointerScope} nor the caller closing its own handles frees it under the model;
 * {@link #release()} gives them up.
 */
final class WeightBinder extends ParameterSource {
    private final Map<String, Tensor> weights;
    private final List<Tensor> handles = new ArrayList<>();

    WeightBinder(String configSource, Map<String, Tensor> weights) {
        super(configSource);
        this.weights = weights;
    }

    @Override
    public Tensor take(String name, long... shape) {
        Tensor handle = new Tensor(weights.get(name));
        handle.retainReference();
        handles.add(handle);
        return handle;
    }

    /** Releases every handle handed out; the storage lives on while the caller holds its own. */
    void release() {
        for (Tensor t : handles) {
            t.releaseReference();
        }
        handles.clear();
    }
}
