package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Attention slicing ({@link AttentionSlicing}, diffusers' {@code enable_attention_slicing}) changes
 * peak memory and nothing else: the tiny UNet's prediction with every slicing equals the unsliced
 * one within float rounding, and a golden case still matches diffusers at its usual tolerances.
 */
class AttentionSlicingTest {
    /** Same sums in other blocks: rounding only. The UNet's outputs are O(1). */
    private static final double ROUNDING = 1e-6;

    private static CycleDiffusionPipeline sd;

    @BeforeAll
    static void load() {
        sd = TorchPipelineParityTest.open("tiny-sd");
    }

    @AfterAll
    static void close() {
        if (sd != null) {
            sd.close();
        }
    }

    /**
     * 72×72 latents: 5184 queries, so one head's scores (5184² > {@link AttentionSlicing#SCORE_ELEMENTS})
     * are also chunked by queries (with a remainder chunk); 3 heads per slice over 2 × 8 rows leaves
     * a remainder slice.
     */
    @Test
    void everySlicingPredictsWhatTheUnslicedUNetPredicts() {
        UNet unet = sd.models().unet();
        Random random = new Random(5);
        FloatTensor latents = gaussian(random, 2, 4, 72, 72);
        FloatTensor text = gaussian(random, 2, 77, 32);
        try {
            assertTrue(unet.setAttentionSlicing(AttentionSlicing.OFF));
            Conditioning c = unet.condition(text);
            FloatTensor reference = unet.predict(latents, 500, c);
            assertTrue(reference.allFinite());
            System.out.printf("unsliced prediction: max |x| = %.3g%n", reference.maxAbsDiff(FloatTensor.zeros(reference.shape())));
            AttentionSlicing[] slicings = {AttentionSlicing.AUTO, AttentionSlicing.MAX, new AttentionSlicing(3), new AttentionSlicing(64)};
            double[] d = new double[slicings.length];
            for (int i = 0; i < slicings.length; i++) {
                unet.setAttentionSlicing(slicings[i]);
                d[i] = unet.predict(latents, 500, c).maxAbsDiff(reference);
                System.out.printf("attention slicing %s: max |sliced - unsliced| = %.3g%n", slicings[i], d[i]);
            }
            for (int i = 0; i < slicings.length; i++) {
                assertTrue(d[i] <= ROUNDING, "slicing " + slicings[i] + " moved the prediction by " + d[i]);
            }
            // The comparison can fail: a different input is far from the reference.
            unet.setAttentionSlicing(AttentionSlicing.MAX);
            assertFalse(unet.predict(gaussian(random, 2, 4, 72, 72), 500, c).maxAbsDiff(reference) <= ROUNDING);
        } finally {
            unet.setAttentionSlicing(AttentionSlicing.OFF);
        }
    }

    @Test
    void aGoldenCaseMatchesDiffusersWithSlicingOn() {
        try (CycleDiffusionPipeline sliced = TorchPipelineParityTest.open("tiny-sd")) {
            assertTrue(sliced.models().unet().setAttentionSlicing(AttentionSlicing.MAX));
            TorchPipelineParityTest.assertMatchesDiffusers("v01_basic", Golden.caseJson("v01_basic"), sliced);
        }
    }

    static FloatTensor gaussian(Random random, int... shape) {
        float[] data = new float[(int) FloatTensor.numel(shape)];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian();
        }
        return new FloatTensor(data, shape);
    }
}
