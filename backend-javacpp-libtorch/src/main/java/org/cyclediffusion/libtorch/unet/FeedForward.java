package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.libtorch.layers.Linear;
import org.cyclediffusion.libtorch.layers.ParameterSource;

/**
 * diffusers' {@code FeedForward(dim, activation_fn="geglu", mult=4)}: {@code net.0} is {@code
 * GEGLU} (one Linear to 2·4·dim, split in half along the last axis into value and gate, value ·
 * exact-erf gelu(gate)), {@code net.1} dropout (identity), {@code net.2} Linear back to dim.
 */
final class FeedForward {
    private static final int MULT = 4;
    private final Linear geluProj;
    private final Linear out;

    private FeedForward(Linear geluProj, Linear out) {
        this.geluProj = geluProj;
        this.out = out;
    }

    static FeedForward create(ParameterSource p, String prefix, int dim) {
        int inner = dim * MULT;
        return new FeedForward(
                Linear.create(p, prefix + ".net.0.proj", dim, inner * 2, true),
                Linear.create(p, prefix + ".net.2", inner, dim, true));
    }

    Tensor forward(Tensor x) {
        TensorVector halves = geluProj.forward(x).chunk(2, -1);
        Tensor value = halves.get(0);
        Tensor gate = halves.get(1);
        return out.forward(value.mul(torch.gelu(gate)));
    }
}
