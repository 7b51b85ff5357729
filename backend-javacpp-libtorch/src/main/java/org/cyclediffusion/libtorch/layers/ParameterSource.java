package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Tensor;

/**
 * Where a layer gets its parameters while the model is assembled. The same assembly code runs
 * twice: once against a {@link ShapeRecorder}, which lists every state-dict name with the shape
 * diffusers would create (so expected shapes, parameter counts and validation come from the one
 * description of the network), and once against a {@link WeightBinder}, which hands out the
 * loaded tensors.
 */
public abstract class ParameterSource {
    private final String configSource;

    protected ParameterSource(String configSource) {
        this.configSource = configSource;
    }

    /** The config file the network was described by, for error messages. */
    public final String configSource() {
        return configSource;
    }

    /**
     * The parameter called {@code name} (a diffusers state-dict key) of the given shape. Returns
     * {@code null} while only shapes are being recorded.
     */
    public abstract Tensor take(String name, long... shape);
}
