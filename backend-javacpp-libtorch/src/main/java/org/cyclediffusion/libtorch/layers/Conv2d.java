package org.cyclediffusion.libtorch.layers;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** {@code torch.nn.Conv2d}: square kernel, stride, zero padding, dilation 1, one group, optional bias. */
public final class Conv2d {
    private static final long[] NO_DILATION = {1, 1};
    private final Tensor weight;
    private final Tensor bias;
    private final long[] stride;
    private final long[] padding;

    private Conv2d(Tensor weight, Tensor bias, int stride, int padding) {
        this.weight = weight;
        this.bias = bias;
        this.stride = new long[] {stride, stride};
        this.padding = new long[] {padding, padding};
    }

    /** {@code weight [out, in, kernel, kernel]} and {@code bias [out]}. */
    public static Conv2d create(ParameterSource p, String prefix, int in, int out, int kernel, int stride, int padding) {
        return create(p, prefix, in, out, kernel, stride, padding, true);
    }

    public static Conv2d create(ParameterSource p, String prefix, int in, int out, int kernel, int stride, int padding, boolean bias) {
        Tensor w = p.take(prefix + ".weight", out, in, kernel, kernel);
        Tensor b = bias ? p.take(prefix + ".bias", out) : null;
        return new Conv2d(w, b, stride, padding);
    }

    public Tensor forward(Tensor x) {
        return torch.conv2d(x, weight, bias == null ? new TensorOptional() : new TensorOptional(bias), stride, padding, NO_DILATION, 1);
    }
}
