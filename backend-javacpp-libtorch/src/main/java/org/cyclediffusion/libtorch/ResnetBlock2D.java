package org.cyclediffusion.libtorch;

import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.libtorch.Layers.Conv2d;
import org.cyclediffusion.libtorch.Layers.GroupNorm;

/**
 * diffusers' {@code ResnetBlock2D} as the VAE uses it (no time embedding, output scale 1):
 * {@code shortcut(x) + conv2(act(norm2(conv1(act(norm1(x))))))}, with a 1×1 {@code conv_shortcut}
 * when the channel count changes.
 */
final class ResnetBlock2D {
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d shortcut;
    private final Activation activation;

    ResnetBlock2D(TorchWeights w, String prefix, int in, int out, int groups, double eps, Activation activation) {
        this.norm1 = GroupNorm.of(w, prefix + ".norm1", groups, eps);
        this.conv1 = Conv2d.of(w, prefix + ".conv1", 1, 1);
        this.norm2 = GroupNorm.of(w, prefix + ".norm2", groups, eps);
        this.conv2 = Conv2d.of(w, prefix + ".conv2", 1, 1);
        this.shortcut = in != out ? Conv2d.of(w, prefix + ".conv_shortcut", 1, 0) : null;
        this.activation = activation;
    }

    static void expect(Map<String, long[]> shapes, String prefix, int in, int out) {
        GroupNorm.expect(shapes, prefix + ".norm1", in);
        Conv2d.expect(shapes, prefix + ".conv1", out, in, 3);
        GroupNorm.expect(shapes, prefix + ".norm2", out);
        Conv2d.expect(shapes, prefix + ".conv2", out, out, 3);
        if (in != out) {
            Conv2d.expect(shapes, prefix + ".conv_shortcut", out, in, 1);
        }
    }

    Tensor forward(Tensor x) {
        Tensor h = conv1.apply(activation.apply(norm1.apply(x)));
        h = conv2.apply(activation.apply(norm2.apply(h)));
        return (shortcut == null ? x : shortcut.apply(x)).add(h);
    }
}
