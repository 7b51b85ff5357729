package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/** {@code torch.nn.Conv2d} with a bias, square kernel, stride and zero padding. */
final class Conv2d {
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

    static Conv2d create(ParameterSource p, String prefix, int in, int out, int kernel, int stride, int padding) {
        Tensor w = p.take(prefix + ".weight", out, in, kernel, kernel);
        Tensor b = p.take(prefix + ".bias", out);
        return new Conv2d(w, b, stride, padding);
    }

    Tensor forward(Tensor x) {
        return torch.conv2d(x, weight, new TensorOptional(bias), stride, padding, NO_DILATION, 1);
    }
}
