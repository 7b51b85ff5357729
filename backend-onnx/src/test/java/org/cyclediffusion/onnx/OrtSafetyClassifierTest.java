package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.conformance.BackendConformanceSuite;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The diffusers-script safety checker export on the golden CLIP inputs: {@code img_a} is not flagged,
 * {@code img_b} is (fixtures README "Safety checker (ONNX)"); {@code images} is
 * clip(decoded / 2 + 0.5, 0, 1) in NHWC, here of the same input image.
 */
class OrtSafetyClassifierTest {
    private static OrtSafetyClassifier checker;

    @BeforeAll
    static void open() {
        checker = OrtSafetyClassifier.open(new OrtSessionFactory(org.cyclediffusion.core.spi.Device.CPU),
                Fixtures.model("tiny-sd-onnx").resolve("safety_checker/model.onnx"));
    }

    @AfterAll
    static void close() {
        checker.close();
    }

    @Test
    void flagsImgBNotImgA() {
        try (Golden g = Golden.open("safety_checker"); Golden ip = Golden.open("image_processor")) {
            FloatTensor pv = g.f32("pixel_values");
            FloatTensor a = nhwc(ip.f32("img_a_64x64_preprocessed"));
            FloatTensor b = nhwc(ip.f32("img_b_96x64_preprocessed"));
            assertArrayEquals(new boolean[] {false}, checker.flags(pv.row(0), a), "img_a");
            assertArrayEquals(new boolean[] {true}, checker.flags(pv.row(1), b), "img_b (64x96 images input, batch 1)");
            // a batch of two runs as two calls (the export only takes batch 1)
            assertArrayEquals(new boolean[] {false, true}, checker.flags(pv, FloatTensor.cat(a, a)), "img_a, img_b as one batch");
        }
    }

    @Test
    void mismatchedBatchesAreRejected() {
        try (Golden g = Golden.open("safety_checker")) {
            CycleDiffusionException e = assertThrows(CycleDiffusionException.class,
                    () -> checker.flags(g.f32("pixel_values"), FloatTensor.zeros(1, 64, 64, 3)));
            assertTrue(e.getMessage().contains("[2, 3, 224, 224]") && e.getMessage().contains("[1, 64, 64, 3]"), e.getMessage());
        }
    }

    private static FloatTensor nhwc(FloatTensor pixels) {
        return BackendConformanceSuite.nhwc01(pixels);
    }
}
