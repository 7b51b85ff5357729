package org.cyclediffusion.core.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.Test;

/**
 * Parity of {@link TorchGenerator} with {@code torch.randn(shape, generator=g)} of torch 1.13 on CPU,
 * from the {@code rng} golden (fixtures README §5) and the draws of the {@code cycle_v01_basic}
 * end-to-end golden. The comparisons are bit for bit: the scalar path is double libm math rounded
 * to float, and the vector path reproduces torch's Cephes float polynomials with GCC's fused
 * multiply-adds (see {@link CephesFloatMath}); both are deterministic in Java.
 */
class TorchGeneratorTest {

    @Test
    void everyGoldenDrawMatchesTorchBitForBit() {
        try (Golden golden = Golden.open("rng")) {
            JsonNode json = golden.json();
            List<int[]> callOrder = new ArrayList<>();
            for (JsonNode shape : json.get("call_order")) {
                int[] dims = new int[shape.size()];
                for (int d = 0; d < dims.length; d++) {
                    dims[d] = shape.get(d).asInt();
                }
                callOrder.add(dims);
            }
            assertEquals(7, callOrder.size(), "call_order in rng.json");
            int compared = 0;
            Iterator<Map.Entry<String, JsonNode>> seeds = json.get("seed_index").fields();
            while (seeds.hasNext()) {
                Map.Entry<String, JsonNode> entry = seeds.next();
                String prefix = entry.getKey();
                long seed = entry.getValue().asLong();
                TorchGenerator sequence = new TorchGenerator(seed);
                for (int k = 0; k < callOrder.size(); k++) {
                    int[] shape = callOrder.get(k);
                    assertBitwise(golden.f32(prefix + "_call" + k), sequence.randn(shape),
                            prefix + "_call" + k + " (seed " + seed + ")");
                    assertBitwise(golden.f32(prefix + "_fresh" + k), new TorchGenerator(seed).randn(shape),
                            prefix + "_fresh" + k + " (seed " + seed + ")");
                    compared += 2;
                }
            }
            assertEquals(42, compared, "golden tensors compared (3 seeds x 7 shapes x {call, fresh})");
        }
    }

    /**
     * The pipeline's draw order in {@code cycle_v01_basic}: one generator seeded 0 gives the VAE's
     * {@code latent_dist.sample}, then add_noise, then one draw per posterior step.
     */
    @Test
    void pipelineDrawSequenceOfCycleV01Basic() {
        try (Golden golden = Golden.open("cycle_v01_basic")) {
            TorchGenerator generator = new TorchGenerator(golden.json().at("/case/seed").asLong());
            FloatTensor vaeSample = golden.f32("eps_vae_sample");
            assertBitwise(vaeSample, generator.randn(vaeSample.shape()), "eps_vae_sample");
            FloatTensor addNoise = golden.f32("eps_add_noise");
            assertBitwise(addNoise, generator.randn(addNoise.shape()), "eps_add_noise");

            FloatTensor posterior = golden.f32("eps_posterior");
            int steps = posterior.dim(0);
            assertEquals(15, steps, "posterior draws (16 steps, none at the last)");
            int[] stepShape = Arrays.copyOfRange(posterior.shape(), 1, posterior.rank());
            List<FloatTensor> drawn = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                drawn.add(generator.randn(stepShape));
            }
            FloatTensor stacked = FloatTensor.cat(drawn).reshape(posterior.shape());
            TensorAssert.assertAllClose(stacked, posterior, 0, 1e-6, "eps_posterior");
            assertBitwise(posterior, stacked, "eps_posterior");
        }
    }

    @Test
    void seedsAbove32BitsBehaveAsSeedModulo2To32() {
        long big = (1L << 32) + 5;
        TorchGenerator a = new TorchGenerator(big);
        TorchGenerator b = new TorchGenerator(5);
        assertEquals(big, a.seed());
        assertEquals(5, b.seed());
        for (int[] shape : new int[][] {{3}, {16}, {2, 4, 8, 12}}) {
            assertBitwise(b.randn(shape), a.randn(shape), "seed 2^32+5 vs 5, shape " + Arrays.toString(shape));
        }
    }

    @Test
    void sameSeedSameStreamDifferentSeedDifferentStream() {
        TorchGenerator a = new TorchGenerator(1234);
        TorchGenerator b = new TorchGenerator(1234);
        TorchGenerator c = new TorchGenerator(1235);
        for (int[] shape : new int[][] {{5}, {1, 4, 8, 8}, {17}, {1}}) {
            FloatTensor fromA = a.randn(shape);
            assertBitwise(fromA, b.randn(shape), "same seed");
            assertFalse(Arrays.equals(fromA.data(), c.randn(shape).data()), "different seed");
        }
        // Successive draws continue the stream rather than restart it.
        TorchGenerator d = new TorchGenerator(7);
        assertFalse(Arrays.equals(d.randn(64).data(), d.randn(64).data()));
    }

    /** A scalar draw's cached r·sin θ is returned by the next scalar draw, in a later call. */
    @Test
    void cachedScalarSampleCarriesAcrossCalls() {
        FloatTensor pair = new TorchGenerator(3).randn(2);
        TorchGenerator g = new TorchGenerator(3);
        float first = g.randn(1).data()[0];
        float second = g.randn(1).data()[0];
        assertArrayEquals(bits(pair.data()), bits(new float[] {first, second}));
    }

    /**
     * torch's vector path (16 or more elements) neither consumes nor resets the cached scalar
     * sample: normal_fill draws float uniforms straight from the engine.
     */
    @Test
    void vectorPathLeavesTheCachedScalarSampleAlone() {
        TorchGenerator reference = new TorchGenerator(11);
        float[] pair = reference.randn(2).data();
        FloatTensor block = reference.randn(32);

        TorchGenerator g = new TorchGenerator(11);
        float first = g.randn(1).data()[0];
        FloatTensor middle = g.randn(32);
        float second = g.randn(1).data()[0];
        assertArrayEquals(bits(pair), bits(new float[] {first, second}));
        assertBitwise(block, middle, "vector draw after one scalar draw");
    }

    @Test
    void emptyShapesDrawNothingAndScalarShapeDrawsOne() {
        TorchGenerator g = new TorchGenerator(0);
        assertEquals(0, g.randn(0).size());
        assertEquals(0, g.randn(2, 0, 3).size());
        FloatTensor scalar = g.randn();
        assertEquals(1, scalar.size());
        assertEquals(0, scalar.rank());
        assertBitwise(new TorchGenerator(0).randn(1).reshape(), scalar, "0-d draw");
    }

    @Test
    void samplesLookStandardNormal() {
        float[] x = new TorchGenerator(2024).randn(1 << 16).data();
        double sum = 0;
        double sumSq = 0;
        for (float v : x) {
            assertTrue(Float.isFinite(v));
            sum += v;
            sumSq += (double) v * v;
        }
        double mean = sum / x.length;
        double var = sumSq / x.length - mean * mean;
        assertEquals(0.0, mean, 0.02, "mean");
        assertEquals(1.0, var, 0.02, "variance");
    }

    private static void assertBitwise(FloatTensor expected, FloatTensor actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        float[] e = expected.data();
        float[] a = actual.data();
        if (!Arrays.equals(bits(e), bits(a))) {
            double[] stats = TensorAssert.diffStats(a, e);
            int differing = 0;
            for (int i = 0; i < e.length; i++) {
                if (Float.floatToRawIntBits(e[i]) != Float.floatToRawIntBits(a[i])) {
                    differing++;
                }
            }
            throw new AssertionError(String.format("%s: %d of %d elements differ in their bits; max |Δ| = %g",
                    what, differing, e.length, stats[0]));
        }
    }

    private static int[] bits(float[] values) {
        int[] out = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = Float.floatToRawIntBits(values[i]);
        }
        return out;
    }
}
