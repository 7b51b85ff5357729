package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.libtorch.layers.Linear;
import org.cyclediffusion.libtorch.layers.ParameterSource;

/** diffusers' {@code TimestepEmbedding}: {@code linear_2(silu(linear_1(t_emb)))}, no condition, no post-activation. */
final class TimestepEmbedding {
    private final Linear linear1;
    private final Linear linear2;

    private TimestepEmbedding(Linear linear1, Linear linear2) {
        this.linear1 = linear1;
        this.linear2 = linear2;
    }

    static TimestepEmbedding create(ParameterSource p, String prefix, int in, int timeEmbedDim) {
        return new TimestepEmbedding(
                Linear.create(p, prefix + ".linear_1", in, timeEmbedDim, true),
                Linear.create(p, prefix + ".linear_2", timeEmbedDim, timeEmbedDim, true));
    }

    Tensor forward(Tensor tEmb) {
        return linear2.forward(torch.silu(linear1.forward(tEmb)));
    }
}
