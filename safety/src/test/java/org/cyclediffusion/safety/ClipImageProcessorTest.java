package org.cyclediffusion.safety;

import static org.cyclediffusion.core.testing.TensorAssert.assertAllClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.Test;

class ClipImageProcessorTest {
    private static ClipImageProcessor tinySd() {
        return ClipImageProcessor.fromFolder(ModelFolder.open(Fixtures.model("tiny-sd")));
    }

    private static ClipImageProcessor parse(String json) {
        return ClipImageProcessor.fromConfig(JsonConfig.parse(json, "test/preprocessor_config.json"));
    }

    /** golden/safety_checker: img_a (64×64) and img_b (96×64) through CLIPImageProcessor, PIL images as input. */
    @Test
    void reproducesGoldenPixelValues() {
        RgbImage a = TestImages.readPng(Fixtures.image("img_a_64x64.png"));
        RgbImage b = TestImages.readPng(Fixtures.image("img_b_96x64.png"));
        ClipImageProcessor p = tinySd();
        FloatTensor actual = p.preprocess(List.of(a, b));
        try (Golden g = Golden.open("safety_checker")) {
            FloatTensor expected = g.f32("pixel_values");
            double[] stats = TensorAssert.diffStats(actual.data(), expected.data());
            System.out.printf("ClipImageProcessor vs golden pixel_values: max |Δ| = %.3g, mean |Δ| = %.3g%n", stats[0], stats[1]);
            assertAllClose(actual, expected, 0, 1e-6, "pixel_values");
        }
    }

    @Test
    void legacyIntegerSizesReadAsShortestEdgeAndSquareCrop() {
        ClipImageProcessor p = tinySd();
        assertTrue(p.unknownKeys().isEmpty(), "tiny-sd's legacy config has only known keys: " + p.unknownKeys());
        // img_b is 96 wide, 64 high: the short side goes to 224, the long side to int(224 * 96 / 64) = 336.
        assertArrayEquals(new int[] {224, 336}, p.resizeTarget(96, 64));
        assertArrayEquals(new int[] {336, 224}, p.resizeTarget(64, 96));
        assertArrayEquals(new int[] {224, 224}, p.resizeTarget(64, 64));
        // int(224 * 100 / 70) = int(320.0) and int(224 * 101 / 70) = int(323.2): truncation, not rounding.
        assertArrayEquals(new int[] {224, 323}, p.resizeTarget(101, 70));
        assertArrayEquals(new int[] {224, 224}, p.outputSize(96, 64));
    }

    @Test
    void dictAndListFormsMatchTheLegacyForm() {
        RgbImage b = TestImages.readPng(Fixtures.image("img_b_96x64.png"));
        FloatTensor legacy = tinySd().preprocess(List.of(b));
        ClipImageProcessor dict = parse("{\"size\": {\"shortest_edge\": 224}, \"crop_size\": {\"height\": 224, \"width\": 224},"
                + " \"resample\": 3, \"image_processor_type\": \"CLIPImageProcessor\"}");
        assertArrayEquals(legacy.data(), dict.preprocess(List.of(b)).data());
        ClipImageProcessor list = parse("{\"crop_size\": [224, 224]}");
        assertArrayEquals(legacy.data(), list.preprocess(List.of(b)).data(), "defaults equal CLIP's");
    }

    @Test
    void exactSizeAndCropShapes() {
        RgbImage b = TestImages.readPng(Fixtures.image("img_b_96x64.png"));
        ClipImageProcessor p = parse("{\"size\": {\"height\": 40, \"width\": 50}, \"crop_size\": {\"height\": 30, \"width\": 20}}");
        assertArrayEquals(new int[] {1, 3, 30, 20}, p.preprocess(List.of(b)).shape());
        ClipImageProcessor square = parse("{\"size\": 32, \"use_square_size\": true, \"do_center_crop\": false}");
        assertArrayEquals(new int[] {1, 3, 32, 32}, square.preprocess(List.of(b)).shape());
    }

    @Test
    void centerCropPadsWithZerosLikeTransformers() {
        // 3 wide, 2 high; crop 4×4 → canvas 4×4, image placed at top = ceil((4-2)/2) = 1, left = ceil((4-3)/2) = 1.
        byte[] px = new byte[2 * 3 * 3];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) (i + 1);
        }
        RgbImage out = ClipImageProcessor.centerCrop(new RgbImage(3, 2, px), 4, 4);
        assertEquals(0, out.get(0, 0, 0));
        assertEquals(0, out.get(0, 1, 0));
        assertEquals(1, out.get(1, 1, 0), "source (0, 0)");
        assertEquals(13, out.get(2, 2, 0), "source (1, 1)");
        assertEquals(18, out.get(3, 2, 2), "source (2, 1), blue");
        for (int x = 0; x < 4; x++) {
            assertEquals(0, out.get(x, 3, 0), "bottom row is padding");
            assertEquals(0, out.get(x, 0, 1), "top row is padding");
        }
        // an odd difference: crop 1×1 of a 3×2 image takes (top, left) = ((2-1)//2, (3-1)//2) = (0, 1)
        RgbImage one = ClipImageProcessor.centerCrop(new RgbImage(3, 2, px), 1, 1);
        assertEquals(px[3] & 0xFF, one.get(0, 0, 0));
    }

    @Test
    void unknownKeysAreReportedWithTheFile() {
        ClipImageProcessor p = parse("{\"size\": 224, \"crop_size\": 224, \"do_magic\": true, \"feature_extractor_type\": \"CLIPFeatureExtractor\"}");
        assertEquals(List.of("do_magic"), p.unknownKeys());
    }

    @Test
    void unsupportedSettingsFailNamingFileAndField() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{\"resample\": 0}"));
        assertTrue(e.getMessage().contains("test/preprocessor_config.json") && e.getMessage().contains("resample"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> parse("{\"size\": {\"width\": 3}}"));
        assertTrue(e.getMessage().contains("size"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> parse("{\"image_mean\": [0.5, 0.5]}"));
        assertTrue(e.getMessage().contains("image_mean"), e.getMessage());
    }
}
