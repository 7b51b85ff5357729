package org.cyclediffusion.libtorch;

import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.layers.ParameterSource;

/**
 * Hands the layers the tensors of a {@link TorchWeights} (already checked against the shapes the
 * same assembly recorded). The weights own them; the network holds no handles of its own and is
 * only used while they are open.
 */
final class TorchWeightsSource extends ParameterSource {
    private final TorchWeights weights;

    TorchWeightsSource(String configSource, TorchWeights weights) {
        super(configSource);
        this.weights = weights;
    }

    @Override
    public Tensor take(String name, long... shape) {
        return weights.get(name);
    }
}
