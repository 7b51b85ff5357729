package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.conv2d;
import static org.bytedeco.pytorch.global.torch.group_norm;
import static org.bytedeco.pytorch.global.torch.layer_norm;
import static org.bytedeco.pytorch.global.torch.linear;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;

import java.util.Map;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The torch.nn layers the networks are made of, as functional ops over loaded weights. Each layer
 * also states the tensors it needs ({@code expect}), so a network's expected names and shapes are
 * written once, next to the code that uses them.
 */
final class Layers {
    private Layers() {
    }

    private static TensorOptional optional(Tensor t) {
        return t == null ? new TensorOptional() : new TensorOptional(t);
    }

    /** {@code nn.Linear}: {@code weight [out, in]}, optional {@code bias [out]}. */
    record Linear(Tensor weight, Tensor bias) {
        static Linear of(TorchWeights w, String prefix, boolean bias) {
            return new Linear(w.get(prefix + ".weight"), bias ? w.get(prefix + ".bias") : null);
        }

        static void expect(Map<String, long[]> shapes, String prefix, long out, long in, boolean bias) {
            shapes.put(prefix + ".weight", new long[] {out, in});
            if (bias) {
                shapes.put(prefix + ".bias", new long[] {out});
            }
        }

        Tensor apply(Tensor x) {
            return linear(x, weight, optional(bias));
        }
    }

    /** {@code nn.Conv2d} with a square kernel, dilation 1, one group. */
    record Conv2d(Tensor weight, Tensor bias, long stride, long padding) {
        static Conv2d of(TorchWeights w, String prefix, long stride, long padding) {
            return new Conv2d(w.get(prefix + ".weight"), w.get(prefix + ".bias"), stride, padding);
        }

        static void expect(Map<String, long[]> shapes, String prefix, long out, long in, long kernel) {
            shapes.put(prefix + ".weight", new long[] {out, in, kernel, kernel});
            shapes.put(prefix + ".bias", new long[] {out});
        }

        Tensor apply(Tensor x) {
            return conv2d(x, weight, optional(bias), new long[] {stride, stride}, new long[] {padding, padding}, new long[] {1, 1}, 1);
        }
    }

    /** {@code nn.GroupNorm} with affine parameters. */
    record GroupNorm(long groups, Tensor weight, Tensor bias, double eps) {
        static GroupNorm of(TorchWeights w, String prefix, long groups, double eps) {
            return new GroupNorm(groups, w.get(prefix + ".weight"), w.get(prefix + ".bias"), eps);
        }

        static void expect(Map<String, long[]> shapes, String prefix, long channels) {
            shapes.put(prefix + ".weight", new long[] {channels});
            shapes.put(prefix + ".bias", new long[] {channels});
        }

        Tensor apply(Tensor x) {
            return group_norm(x, groups, optional(weight), optional(bias), eps, true);
        }
    }

    /** {@code nn.LayerNorm} over the last dimension. */
    record LayerNorm(Tensor weight, Tensor bias, double eps) {
        static LayerNorm of(TorchWeights w, String prefix, double eps) {
            return new LayerNorm(w.get(prefix + ".weight"), w.get(prefix + ".bias"), eps);
        }

        static void expect(Map<String, long[]> shapes, String prefix, long dim) {
            shapes.put(prefix + ".weight", new long[] {dim});
            shapes.put(prefix + ".bias", new long[] {dim});
        }

        Tensor apply(Tensor x) {
            return layer_norm(x, new long[] {weight.size(0)}, optional(weight), optional(bias), eps, true);
        }
    }

    /**
     * Multi-head scaled dot-product attention on projected {@code q [B, Lq, H·d]}, {@code k, v [B, Lk, H·d]},
     * softmax scale {@code 1/sqrt(d)}, through {@code scaled_dot_product_attention}. With
     * {@code upcast}, half-precision inputs are attended in float32 (diffusers' {@code upcast_attention}
     * / {@code upcast_softmax}); the result comes back in the input's precision.
     */
    static Tensor attention(Tensor q, Tensor k, Tensor v, long heads, boolean causal, boolean upcast) {
        long batch = q.size(0);
        long dim = q.size(2);
        long headDim = dim / heads;
        ScalarType type = q.scalar_type();
        boolean up = upcast && type != ScalarType.Float && type != ScalarType.Double;
        Tensor qh = split(up ? q.to(ScalarType.Float) : q, batch, heads, headDim);
        Tensor kh = split(up ? k.to(ScalarType.Float) : k, batch, heads, headDim);
        Tensor vh = split(up ? v.to(ScalarType.Float) : v, batch, heads, headDim);
        Tensor out = scaled_dot_product_attention(qh, kh, vh, new TensorOptional(), 0.0, causal, new DoubleOptional(), false);
        out = out.transpose(1, 2).reshape(batch, -1, dim);
        return up ? out.to(type) : out;
    }

    /** [B, L, H·d] → [B, H, L, d]. */
    private static Tensor split(Tensor x, long batch, long heads, long headDim) {
        return x.view(batch, -1, heads, headDim).transpose(1, 2);
    }
}
