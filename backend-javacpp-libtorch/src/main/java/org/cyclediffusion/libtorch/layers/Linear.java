package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * {@code torch.nn.Linear}: {@code weight [out, in]}, optional {@code bias [out]}. {@code linear}
 * folds a contiguous [B, L, in] input into one GEMM with the bias fused ({@code addmm}).
 */
public final class Linear {
    private final Tensor weight;
    private final Tensor bias;

    private Linear(Tensor weight, Tensor bias) {
        this.weight = weight;
        this.bias = bias;
    }

    public static Linear create(ParameterSource p, String prefix, int in, int out, boolean bias) {
        Tensor w = p.take(prefix + ".weight", out, in);
        Tensor b = bias ? p.take(prefix + ".bias", out) : null;
        return new Linear(w, b);
    }

    public Tensor forward(Tensor x) {
        return bias == null ? torch.linear(x, weight) : torch.linear(x, weight, new TensorOptional(bias));
    }
}
