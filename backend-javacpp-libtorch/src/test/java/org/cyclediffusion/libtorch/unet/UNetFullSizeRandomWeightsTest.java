package org.cyclediffusion.libtorch.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.libtorch.TorchNatives;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The full-size SD v1.5 and v2.1 UNets assemble and run: 3.4 GB of random float32 weights (fan-in
 * scaled so activations stay O(1)), one forward pass at a small latent size on the CPU. No
 * reference numbers exist for random weights, so this checks shapes, finiteness, bitwise
 * repeatability and that a forward pass leaves no native objects behind; parity is the tiny
 * models' job ({@link UNet2DConditionModelGoldenTest}). SD 2.1 runs 7×10 latents, which with three
 * upsamplers needs forwarded upsample sizes at every level (7 → 4 → 2 → 1 and back).
 */
class UNetFullSizeRandomWeightsTest {

    @BeforeAll
    static void loadNatives() {
        TorchNatives.load(); // the bundled LibTorch only, never a system one, before torch.manual_seed initialises LibTorch
    }

    @ParameterizedTest(name = "{0} at {1}x{2}")
    @CsvSource({"sd15_unet, 8, 8, 768", "sd21_unet, 7, 10, 1024"})
    void runsOneForwardPass(String key, int height, int width, int textDim) {
        JsonConfig config = FullSizeConfigs.config(key);
        long start = System.nanoTime();
        Map<String, Tensor> weights = randomWeights(UNet2DConditionModel.expectedShapes(config));
        try (UNet2DConditionModel unet = UNet2DConditionModel.build(FullSizeConfigs.config(key), weights);
                Tensor sample = torch.randn(1, 4, height, width);
                Tensor text = torch.randn(1, 77, textDim)) {
            long built = System.nanoTime();
            FloatTensor first;
            long before = org.bytedeco.javacpp.Pointer.totalCount();
            try (Tensor out = unet.forward(sample, 500, text)) {
                first = UNetTestTensors.toHost(out);
            }
            assertEquals(before, org.bytedeco.javacpp.Pointer.totalCount(), "native objects left behind by a forward pass");
            long ran = System.nanoTime();
            FloatTensor second;
            try (Tensor out = unet.forward(sample, 500, text)) {
                second = UNetTestTensors.toHost(out);
            }
            System.out.printf("%s: random weights + build %.1f s, forward [1,4,%d,%d] %.1f s, output std %.3g%n", key,
                    (built - start) / 1e9, height, width, (ran - built) / 1e9, std(first.data()));
            assertArrayEquals(new int[] {1, 4, height, width}, first.shape());
            for (float v : first.data()) {
                assertTrue(Float.isFinite(v), key + ": non-finite output");
            }
            assertTrue(std(first.data()) > 1e-3, key + ": output is constant");
            assertArrayEquals(first.data(), second.data(), key + ": two forward passes differ");
        } finally {
            UNetTestTensors.closeAll(weights);
        }
    }

    /** N(0,1)/sqrt(fan_in) for matrices and kernels, 1 + 0.1·N(0,1) for norm scales, 0.02·N(0,1) for biases. */
    private static Map<String, Tensor> randomWeights(Map<String, long[]> shapes) {
        torch.manual_seed(0);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] shape = e.getValue();
            Tensor t = torch.randn(shape);
            try (Scalar scale = new Scalar(scaleFor(e.getKey(), shape))) {
                t.mul_(scale);
            }
            if (isNormScale(e.getKey(), shape)) {
                try (Scalar one = new Scalar(1.0)) {
                    t.add_(one);
                }
            }
            out.put(e.getKey(), t);
        }
        return out;
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

    private static boolean isNormScale(String name, long[] shape) {
        String layer = name.substring(0, name.lastIndexOf('.'));
        return shape.length == 1 && name.endsWith(".weight") && layer.substring(layer.lastIndexOf('.') + 1).startsWith("norm")
                || name.equals("conv_norm_out.weight");
    }

    private static double std(float[] v) {
        double mean = 0;
        for (float x : v) {
            mean += x;
        }
        mean /= v.length;
        double var = 0;
        for (float x : v) {
            var += (x - mean) * (x - mean);
        }
        return Math.sqrt(var / v.length);
    }
}
