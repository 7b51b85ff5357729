package org.cyclediffusion.libtorch;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Random float32 CPU weights for a list of expected shapes, scaled so that activations stay O(1)
 * through a deep network: N(0,1)/sqrt(fan_in) for matrices, kernels and embedding tables,
 * 1 + 0.1·N(0,1) for norm scales, 0.02·N(0,1) for biases and other vectors. Every tensor is the
 * caller's to close ({@link #closeAll}).
 */
public final class RandomWeights {
    static {
        TorchNatives.load(); // the bundled LibTorch only (see TorchNatives), before torch.manual_seed initialises LibTorch
    }

    private RandomWeights() {
    }

    public static Map<String, Tensor> of(Map<String, long[]> shapes, long seed) {
        torch.manual_seed(seed);
        Map<String, Tensor> out = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                long[] shape = e.getValue();
                Tensor t = torch.randn(shape);
                out.put(e.getKey(), t);
                try (Scalar scale = new Scalar(scaleFor(e.getKey(), shape))) {
                    t.mul_(scale);
                }
                if (isNormScale(e.getKey(), shape)) {
                    try (Scalar one = new Scalar(1.0)) {
                        t.add_(one);
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            closeAll(out);
            throw e;
        }
        return out;
    }

    static long parameterCount(Map<String, long[]> shapes) {
        long total = 0;
        for (long[] shape : shapes.values()) {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            total += n;
        }
        return total;
    }

    public static void closeAll(Map<String, Tensor> tensors) {
        for (Tensor t : tensors.values()) {
            t.close();
        }
        tensors.clear();
    }

    private static double scaleFor(String name, long[] shape) {
        if (shape.length >= 2) {
            long fanIn = 1;
            for (int i = 1; i < shape.length; i++) {
                fanIn *= shape[i];
            }
            return 1 / Math.sqrt(fanIn);
        }
        return isNormScale(name, shape) ? 0.1 : 0.02;
    }

    /** The weight of a LayerNorm or GroupNorm: {@code layer_norm1}, {@code pre_layrnorm}, {@code group_norm}, {@code conv_norm_out}. */
    private static boolean isNormScale(String name, long[] shape) {
        if (shape.length != 1 || !name.endsWith(".weight")) {
            return false;
        }
        String layer = name.substring(0, name.lastIndexOf('.'));
        String last = layer.substring(layer.lastIndexOf('.') + 1);
        return last.contains("norm"); // "layrnorm" too
    }
}
