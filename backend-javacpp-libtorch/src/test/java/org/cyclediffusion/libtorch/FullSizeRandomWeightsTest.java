package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.TensorAssert;
import org.cyclediffusion.libtorch.layers.Linear;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The full-size SD v1.x / v2.1 text encoders, the SD VAE and the safety checker's embedder
 * assemble from their configs and run one forward pass on the CPU over random float32 weights
 * ({@link RandomWeights}, built in memory and handed over with {@link TorchWeights#of}). No
 * reference numbers exist for random weights, so this checks output shapes, finiteness, bitwise
 * repeatability, that a forward pass leaves no native objects behind and that closing the weights
 * releases every native object the test created; parity is the tiny models' job
 * ({@link ClipTextModelTest}, {@link AutoencoderKLTest}, {@link ClipVisionModelTest}). One network
 * is alive at a time (the SD 2.1 text encoder alone is 1.4 GB).
 */
class FullSizeRandomWeightsTest {
    private static TorchContext cpu;

    @BeforeAll
    static void openContext() {
        cpu = TorchContext.open(Device.CPU, DType.FLOAT32);
    }

    /** "a photo of a cat" as CLIP's tokenizer pads it: BOS, five tokens, EOS, EOS padding to 77. */
    private static long[] promptIds() {
        long[] ids = new long[77];
        Arrays.fill(ids, 49407);
        long[] prompt = {49406, 320, 1125, 539, 320, 2368};
        System.arraycopy(prompt, 0, ids, 0, prompt.length);
        return ids;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"sd15_text_encoder, 768", "sd21_text_encoder, 1024"})
    void textEncoderEncodesOnePromptRow(String key, int hidden) {
        ClipTextConfig config = ClipTextConfig.read(FullSizeComponentConfigs.config(key));
        long[][] ids = {promptIds()};
        // The causal mask: changing the last id may change only the last position's output.
        long[][] lastChanged = {promptIds()};
        lastChanged[0][76] = 1000;
        withRandomWeights(key, ClipTextModel.expectedShapes(config), weights -> {
            ClipTextModel model = new ClipTextModel(config, weights);
            FloatTensor out = forwardTwice(key, () -> TorchContext.download(model.forward(cpu.uploadIds(ids), 0)));
            assertArrayEquals(new int[] {1, 77, hidden}, out.shape(), key);
            FloatTensor changed = cpu.run(() -> TorchContext.download(model.forward(cpu.uploadIds(lastChanged), 0)));
            float[] head = Arrays.copyOf(out.data(), 76 * hidden);
            float[] changedHead = Arrays.copyOf(changed.data(), 76 * hidden);
            TensorAssert.assertAllClose(changedHead, head, 0, 1e-5, key + ": positions before the changed id");
            float[] lastRow = Arrays.copyOfRange(out.data(), 76 * hidden, 77 * hidden);
            float[] changedLastRow = Arrays.copyOfRange(changed.data(), 76 * hidden, 77 * hidden);
            assertTrue(TensorAssert.diffStats(lastRow, changedLastRow)[0] > 1e-3, key + ": the changed id must change its own position");
        });
    }

    @Test
    void vaeEncodesAndDecodes() {
        String key = FullSizeComponentConfigs.VAE;
        AutoencoderKLConfig config = AutoencoderKLConfig.read(FullSizeComponentConfigs.config(key));
        assertEquals(8, config.scaleFactor(), "SD VAE down-sampling");
        FloatTensor pixels = uniform(new Random(1), 1, 3, 64, 64);
        FloatTensor latents = gaussian(new Random(2), 1, 4, 8, 8);
        withRandomWeights(key, AutoencoderKL.expectedShapes(config), weights -> {
            AutoencoderKL vae = new AutoencoderKL(config, weights);
            FloatTensor moments = forwardTwice(key + " encode", () -> TorchContext.download(vae.encodeMoments(cpu.upload(pixels))));
            assertArrayEquals(new int[] {1, 8, 8, 8}, moments.shape(), "moments: mean and log-variance of 4 latent channels at 64/8");
            FloatTensor decoded = forwardTwice(key + " decode", () -> TorchContext.download(vae.decode(cpu.upload(latents))));
            assertArrayEquals(new int[] {1, 3, 64, 64}, decoded.shape(), "decoded pixels at 8·8");
        });
    }

    /** The embedder's forward pass as {@link TorchSafetyEmbedder#imageEmbeds} composes it: pooled vision output, then the projection. */
    @Test
    void safetyEmbedderEmbedsOneImage() {
        String key = FullSizeComponentConfigs.SAFETY_CHECKER;
        ClipVisionConfig config = ClipVisionConfig.read(FullSizeComponentConfigs.config(key));
        FloatTensor pixels = gaussian(new Random(3), 1, 3, 224, 224); // CLIPImageProcessor output is normalised to ~N(0, 1)
        withRandomWeights(key, TorchSafetyEmbedder.embedderShapes(config), weights -> {
            TorchWeightsSource source = new TorchWeightsSource(key, weights);
            ClipVisionModel vision = new ClipVisionModel(config, source, TorchSafetyEmbedder.VISION_PREFIX);
            Linear projection = Linear.create(source, "visual_projection", config.hiddenSize(), config.projectionDim(), false);
            FloatTensor embeds = forwardTwice(key, () -> TorchContext.download(projection.forward(vision.pooled(cpu.upload(pixels)))));
            assertArrayEquals(new int[] {1, 768}, embeds.shape(), "image embeds in projection space");
        });
    }

    private interface WeightsUse {
        void accept(TorchWeights weights);
    }

    /**
     * Random weights for {@code shapes}, checked and wrapped as the loaders' {@link TorchWeights},
     * used, then closed; afterwards no native object the test created is left.
     */
    private static void withRandomWeights(String key, Map<String, long[]> shapes, WeightsUse use) {
        long objectsBefore = NativeObjects.settledCount();
        long start = System.nanoTime();
        Map<String, Tensor> tensors = RandomWeights.of(shapes, 0);
        try (TorchWeights weights = TorchWeights.of(Path.of("random-weights", key), shapes, tensors)) {
            System.out.printf("%s: %,d random float32 parameters in %.1f s%n", key, RandomWeights.parameterCount(shapes),
                    (System.nanoTime() - start) / 1e9);
            use.accept(weights);
        } finally {
            RandomWeights.closeAll(tensors);
        }
        assertEquals(objectsBefore, Pointer.totalCount(), key + ": native objects left after closing the weights");
    }

    /** Runs {@code pass} twice under the context's guard; both results equal bitwise, finite, not constant; none leaks. */
    private static FloatTensor forwardTwice(String what, Supplier<FloatTensor> pass) {
        long objectsBefore = NativeObjects.settledCount();
        long start = System.nanoTime();
        FloatTensor first = cpu.run(pass);
        long ran = System.nanoTime();
        assertEquals(objectsBefore, Pointer.totalCount(), what + ": native objects left behind by a forward pass");
        FloatTensor second = cpu.run(pass);
        double std = std(first.data());
        System.out.printf("%s: forward %s in %.2f s, output std %.3g%n", what, Arrays.toString(first.shape()), (ran - start) / 1e9, std);
        for (float v : first.data()) {
            assertTrue(Float.isFinite(v), what + ": non-finite output");
        }
        assertTrue(std > 1e-3, what + ": output is constant");
        assertArrayEquals(first.data(), second.data(), what + ": two forward passes differ");
        return first;
    }

    private static FloatTensor uniform(Random r, int... shape) {
        float[] v = new float[Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < v.length; i++) {
            v[i] = 2 * r.nextFloat() - 1;
        }
        return new FloatTensor(v, shape);
    }

    private static FloatTensor gaussian(Random r, int... shape) {
        float[] v = new float[Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return new FloatTensor(v, shape);
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
