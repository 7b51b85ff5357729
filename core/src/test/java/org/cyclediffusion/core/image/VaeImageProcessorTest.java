package org.cyclediffusion.core.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Parity with diffusers v0.23.0 {@code VaeImageProcessor} on the {@code image_processor} golden and the end-to-end cases. */
class VaeImageProcessorTest {
    private final VaeImageProcessor processor = new VaeImageProcessor(8);

    @ParameterizedTest
    @ValueSource(strings = {"img_a_64x64", "img_b_96x64", "img_c_64x64", "img_d_80x56", "img_e_70x60"})
    void preprocessMatchesGoldenExactly(String name) {
        try (Golden g = Golden.open("image_processor")) {
            RgbImage image = ImageFiles.read(Fixtures.image(name + ".png"));
            FloatTensor actual = processor.preprocess(List.of(image));
            FloatTensor expected = g.f32(name + "_preprocessed");
            // Bit-exact: PIL's LANCZOS (img_e 70x60 → 64x56) and float32 /255, 2x−1.
            TensorAssert.assertAllClose(actual, expected, 0, 0, name + "_preprocessed");
        }
    }

    @Test
    void lanczosResizeOnlyWhenNotAMultiple() {
        RgbImage e = ImageFiles.read(Fixtures.image("img_e_70x60.png"));
        FloatTensor t = processor.preprocess(List.of(e));
        assertArrayEquals(new int[] {1, 3, 56, 64}, t.shape());
        RgbImage a = ImageFiles.read(Fixtures.image("img_a_64x64.png"));
        FloatTensor ta = processor.preprocess(List.of(a));
        // No resampling at 64x64: values are exactly 2·(u8/255)−1.
        assertEquals(2.0f * ((a.rgb()[0] & 0xFF) / 255.0f) - 1.0f, ta.get(0, 0, 0, 0));
    }

    @Test
    void postprocessMatchesGolden() {
        try (Golden g = Golden.open("image_processor")) {
            FloatTensor np = processor.postprocessNp(g.f32("post_input"), new boolean[] {true});
            TensorAssert.assertAllClose(np, g.f32("post_np"), 0, 0, "post_np");
            RgbImage image = processor.toRgbImages(np).get(0);
            long[] expected = g.i64("post_uint8");
            assertEquals(expected.length, image.rgb().length);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], image.rgb()[i] & 0xFF, "post_uint8[" + i + "]");
            }
        }
    }

    static Stream<String> cases() throws IOException {
        try (Stream<Path> files = Files.list(Fixtures.golden(""))) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("cycle_") && n.endsWith(".safetensors"))
                    .map(n -> n.substring("cycle_".length(), n.length() - ".safetensors".length()))
                    .sorted()
                    .toList()
                    .stream();
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void endToEndImagesMatchGoldenPngs(String id) {
        try (Golden g = Golden.open("cycle_" + id)) {
            FloatTensor imageNp = g.f32("image_np");
            List<RgbImage> images = processor.toRgbImages(imageNp);
            assertEquals(imageNp.dim(0), images.size());
            for (int k = 0; k < images.size(); k++) {
                RgbImage png = ImageFiles.read(Fixtures.golden("cycle_" + id + "_" + k + ".png"));
                assertEquals(png, images.get(k), id + " image " + k + ": toRgbImages(image_np) vs the pipeline's PIL output");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void endToEndPreprocessAndPostprocess(String id) {
        try (Golden g = Golden.open("cycle_" + id)) {
            JsonNode caseJson = Golden.caseJson(id);
            List<RgbImage> inputs = new ArrayList<>();
            for (JsonNode name : caseJson.get("images")) {
                inputs.add(ImageFiles.read(Fixtures.image(name.asText())));
            }
            TensorAssert.assertAllClose(processor.preprocess(inputs), g.f32("image_input"), 0, 0, id + " image_input");

            // The safety checker zeroes flagged images and the pipeline skips their denormalisation.
            FloatTensor decoded = g.f32("decoded").copy();
            JsonNode nsfw = g.json().get("nsfw_content_detected");
            boolean[] denormalize = new boolean[decoded.dim(0)];
            int rowSize = decoded.rowSize();
            for (int b = 0; b < denormalize.length; b++) {
                boolean flagged = nsfw != null && !nsfw.isNull() && nsfw.get(b).asBoolean();
                denormalize[b] = !flagged;
                if (flagged) {
                    java.util.Arrays.fill(decoded.data(), b * rowSize, (b + 1) * rowSize, 0f);
                }
            }
            TensorAssert.assertAllClose(processor.postprocessNp(decoded, denormalize), g.f32("image_np"), 0, 0, id + " image_np");
        }
    }

    @Test
    void flaggedImageIsNotDenormalisedAndStaysBlack() {
        FloatTensor zeros = FloatTensor.zeros(2, 3, 2, 2);
        FloatTensor np = processor.postprocessNp(zeros, new boolean[] {true, false});
        assertEquals(0.5f, np.get(0, 0, 0, 0)); // denormalised zero is mid-gray
        assertEquals(0.0f, np.get(1, 0, 0, 0));
        List<RgbImage> images = processor.toRgbImages(np);
        assertEquals(128, images.get(0).get(0, 0, 0)); // 127.5 rounds half to even → 128
        assertEquals(0, images.get(1).get(0, 0, 0));
    }

    @Test
    void everyByteValueOfEveryChannelNormalisesAsNumpyInFloat32() {
        // 16x16 pixels hold all 256 values in R, and shifted ones in G and B.
        byte[] rgb = new byte[16 * 16 * 3];
        for (int i = 0; i < 256; i++) {
            rgb[i * 3] = (byte) i;
            rgb[i * 3 + 1] = (byte) (i + 85);
            rgb[i * 3 + 2] = (byte) (255 - i);
        }
        FloatTensor pixels = processor.preprocess(List.of(new RgbImage(16, 16, rgb)));
        for (int i = 0; i < 256; i++) {
            for (int c = 0; c < 3; c++) {
                int v = rgb[i * 3 + c] & 0xFF;
                // np.array(image).astype(np.float32) / 255.0, then 2.0 * x - 1.0: each rounded to float32
                float x = (float) v / 255.0f;
                float expected = 2.0f * x - 1.0f;
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(pixels.get(0, c, i / 16, i % 16)),
                        "value " + v + " of channel " + c);
            }
        }
    }

    @Test
    void roundingIsHalfToEvenInFloat32() {
        // Floats whose float32 product with 255 is exactly k + 0.5 (checked with numpy 1.24):
        // numpy's round goes to the even neighbour, Math.round would not.
        assertEquals(2, VaeImageProcessor.toUint8(Float.intBitsToFloat(1008771233)) & 0xFF); // 2.5 → 2
        assertEquals(4, VaeImageProcessor.toUint8(Float.intBitsToFloat(1012981985)) & 0xFF); // 3.5 → 4
        assertEquals(126, VaeImageProcessor.toUint8(Float.intBitsToFloat(1056833022)) & 0xFF); // 126.5 → 126
        assertEquals(128, VaeImageProcessor.toUint8(0.5f) & 0xFF); // 127.5 → 128
        assertEquals(255, VaeImageProcessor.toUint8(1.0f) & 0xFF);
        assertEquals(0, VaeImageProcessor.toUint8(0.0f) & 0xFF);
        assertEquals(0, VaeImageProcessor.toUint8(Float.NaN) & 0xFF);
    }

    @Test
    void differentSizesAreResizedToTheFirstImagesSizeAsDiffusersDoes() {
        RgbImage a = ImageFiles.read(Fixtures.image("img_a_64x64.png"));
        RgbImage e = ImageFiles.read(Fixtures.image("img_e_70x60.png"));
        FloatTensor t = processor.preprocess(List.of(a, e));
        assertArrayEquals(new int[] {2, 3, 64, 64}, t.shape());
        FloatTensor eAlone = processor.preprocess(List.of(PilResample.resize(e, 64, 64, PilResample.Filter.LANCZOS)));
        TensorAssert.assertAllClose(t.row(1), eAlone, 0, 0, "second image resized to the first image's size");
    }

    @Test
    void tooSmallImageIsAClearError() {
        CycleDiffusionException ex = assertThrows(CycleDiffusionException.class,
                () -> processor.preprocess(List.of(RgbImage.black(7, 20))));
        assertTrue(ex.getMessage().contains("7x20"), ex.getMessage());
        assertTrue(ex.getMessage().contains("0x16"), ex.getMessage());
    }

    @Test
    void badShapesAreRejected() {
        assertThrows(CycleDiffusionException.class, () -> processor.postprocessNp(FloatTensor.zeros(1, 4, 2, 2), new boolean[] {true}));
        assertThrows(CycleDiffusionException.class, () -> processor.postprocessNp(FloatTensor.zeros(2, 3, 2, 2), new boolean[] {true}));
        assertThrows(CycleDiffusionException.class, () -> processor.toRgbImages(FloatTensor.zeros(1, 2, 2, 1)));
        assertThrows(CycleDiffusionException.class, () -> processor.preprocess(List.of()));
    }
}
