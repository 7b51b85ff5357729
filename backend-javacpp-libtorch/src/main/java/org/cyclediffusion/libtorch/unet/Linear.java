package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** {@code torch.nn.Linear}: {@code weight [out, in]}, optional {@code bias [out]}. */
final class Linear {
    private final Tensor weight;
    private final Tensor bias;

    private Linear(Tensor weight, Tensor bias) {
        this.weight = weight;
        this.bias = bias;
    }

    static Linear create(ParameterSource p, String prefix, int in, int out, boolean bias) {
        Tensor w = p.take(prefix + ".weight", out, in);
        Tensor b = bias ? p.take(prefix + ".bias", out) : null;
        return new Linear(w, b);
    }

    Tensor forward(Tensor x) {
        return bias == null ? torch.linear(x, weight) : torch.linear(x, weight, new TensorOptional(bias));
    }
}
