package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** {@code torch.nn.LayerNorm(dim, eps, elementwise_affine=True)} over the last axis (float32 statistics for half types, as torch). */
public final class LayerNorm {
    private final Tensor weight;
    private final Tensor bias;
    private final long[] shape;
    private final double eps;

    private LayerNorm(Tensor weight, Tensor bias, int dim, double eps) {
        this.weight = weight;
        this.bias = bias;
        this.shape = new long[] {dim};
        this.eps = eps;
    }

    public static LayerNorm create(ParameterSource p, String prefix, int dim, double eps) {
        Tensor w = p.take(prefix + ".weight", dim);
        Tensor b = p.take(prefix + ".bias", dim);
        return new LayerNorm(w, b, dim, eps);
    }

    public Tensor forward(Tensor x) {
        return torch.layer_norm(x, shape, new TensorOptional(weight), new TensorOptional(bias), eps, true);
    }
}
