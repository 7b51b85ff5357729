package org.cyclediffusion.safety;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.cyclediffusion.core.conformance.BackendConformanceSuite;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.EditObserver;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;

/**
 * What an edit with the checker on must give, compared with a diffusers v0.23.0 end-to-end golden:
 * the flags of {@code nsfw_content_detected}; each flagged image black (all zeros) in the {@code np}
 * output and the 8-bit images, as diffusers' {@code StableDiffusionSafetyChecker} leaves it; each
 * other image equal to {@code image_np} within max |Δ| 4e-4 and mean |Δ| 3e-5 (and its 8-bit
 * rendering within 2/255 of the golden PNG, DESIGN §5).
 */
final class CheckedOutputs {
    /**
     * Measured on every case: max |Δ| ≤ 6.5e-5 (LibTorch) and ≤ 7.9e-5 (ONNX Runtime), both v06; mean
     * ≤ 6.3e-6. About 5× those, so a 10× regression fails.
     */
    static final double IMAGE_MAX = 4e-4;
    static final double IMAGE_MEAN = 3e-5;
    /** DESIGN §5: max |Δ| ≤ 2/255 on 8-bit output. */
    static final int PNG_LEVELS = 2;

    private CheckedOutputs() {
    }

    /** Keeps the decoded VAE output, which the checker sees before flagged rows are blacked out. */
    static final class DecodedRecorder implements EditObserver {
        FloatTensor decoded;

        @Override
        public void tensor(String name, FloatTensor value) {
            if (name.equals("decoded")) {
                decoded = value;
            }
        }
    }

    static boolean[] expectedFlags(Golden g) {
        JsonNode flags = g.json().get("nsfw_content_detected");
        assertTrue(flags != null && flags.isArray(), g.name() + ": the golden records nsfw_content_detected");
        boolean[] out = new boolean[flags.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = flags.get(i).asBoolean();
        }
        return out;
    }

    /**
     * Asserts flags, blacked-out images and parity of the others; prints one line per image with the
     * numbers. {@code decoded} is the pipeline's VAE output before the checker ran.
     */
    static void assertMatchesGolden(String backend, String id, Golden g, EditResult r, FloatTensor decoded) {
        boolean[] expected = expectedFlags(g);
        boolean[] actual = r.nsfwContentDetected().orElseThrow(() -> new AssertionError(id + ": no checker ran"));
        assertArrayEquals(expected, actual, id + " nsfw_content_detected: diffusers " + Arrays.toString(expected) + ", ours "
                + Arrays.toString(actual));
        FloatTensor np = r.imagesNp();
        FloatTensor goldenNp = g.f32("image_np");
        assertArrayEquals(goldenNp.shape(), np.shape(), id + " image_np shape");
        List<RgbImage> pngs = r.images();
        assertEquals(expected.length, pngs.size(), id + " images");
        assertNotNull(decoded, id + ": the pipeline reported its decoded images");
        for (int i = 0; i < expected.length; i++) {
            RgbImage goldenPng = TestImages.readPng(Fixtures.golden("cycle_" + id + "_" + i + ".png"));
            if (expected[i]) {
                float[] row = np.row(i).data();
                for (int k = 0; k < row.length; k++) {
                    assertEquals(0f, row[k], id + " image " + i + " is flagged: its np output must be black, value " + k);
                }
                assertEquals(RgbImage.black(goldenPng.width(), goldenPng.height()), pngs.get(i), id + " image " + i + " PNG is black");
                // The image the checker saw is the one diffusers flagged (its unfiltered post-processing).
                double[] d = TensorAssert.diffStats(BackendConformanceSuite.nhwc01(decoded.row(i)).data(),
                        BackendConformanceSuite.nhwc01(g.f32("decoded").row(i)).data());
                System.out.printf(Locale.ROOT, "%s safety %-30s image %d flagged (black); unfiltered max |d| %.3e mean %.3e%n",
                        backend, id, i, d[0], d[1]);
                assertWithin(id + " image " + i + " before the blackout", d);
                continue;
            }
            double[] d = TensorAssert.diffStats(np.row(i).data(), goldenNp.row(i).data());
            int levels = maxLevelDifference(pngs.get(i), goldenPng);
            System.out.printf(Locale.ROOT, "%s safety %-30s image %d not flagged; image_np max |d| %.3e mean %.3e; PNG max %d/255%n",
                    backend, id, i, d[0], d[1], levels);
            assertWithin(id + " image " + i + " image_np", d);
            assertTrue(levels <= PNG_LEVELS, id + " image " + i + ": PNG differs from diffusers' by " + levels + "/255");
        }
    }

    private static void assertWithin(String what, double[] d) {
        assertTrue(d[0] <= IMAGE_MAX && d[1] <= IMAGE_MEAN, String.format(Locale.ROOT,
                "%s: max |d| %.3e (limit %.0e), mean %.3e (limit %.0e)", what, d[0], IMAGE_MAX, d[1], IMAGE_MEAN));
    }

    static int maxLevelDifference(RgbImage a, RgbImage b) {
        assertEquals(a.sizeString(), b.sizeString(), "image size");
        int max = 0;
        for (int k = 0; k < a.rgb().length; k++) {
            max = Math.max(max, Math.abs((a.rgb()[k] & 0xFF) - (b.rgb()[k] & 0xFF)));
        }
        return max;
    }
}
