package org.cyclediffusion.safety;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The checker's inputs rebuilt from each golden's {@code decoded} tensor. For an image that was not
 * flagged, the golden PNG is {@code postprocess(decoded, "pil")} — exactly what the feature
 * extractor received — and {@code image_np} is the denormalised float image the ONNX checker gets.
 */
class SafetyDecodedImagesTest {
    static Stream<String> cycles() {
        return Stream.concat(SafetyScoringTest.tinySdCycles(), Stream.of("cycle_v12_sd2_vpred", "cycle_v12_sd2_vpred_fixed"));
    }

    @ParameterizedTest
    @MethodSource("cycles")
    void pilRenderingEqualsTheGoldenPngs(String name) {
        try (Golden g = Golden.open(name)) {
            FloatTensor decoded = g.f32("decoded");
            List<RgbImage> pil = DecodedImages.toPil(decoded);
            for (int i = 0; i < pil.size(); i++) {
                boolean flagged = g.json().has("nsfw_content_detected") && g.json().get("nsfw_content_detected").isArray()
                        && g.json().get("nsfw_content_detected").get(i).booleanValue();
                RgbImage png = TestImages.readPng(Fixtures.golden(name + "_" + i + ".png"));
                if (flagged) {
                    assertEquals(RgbImage.black(png.width(), png.height()), png, name + " image " + i + " is blacked out in the PNG");
                    continue;
                }
                assertEquals(png, pil.get(i), name + " image " + i + ": uint8 rendering of decoded vs PNG");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cycles")
    void unitNhwcEqualsImageNp(String name) {
        try (Golden g = Golden.open(name)) {
            FloatTensor decoded = g.f32("decoded");
            FloatTensor imageNp = g.f32("image_np");
            for (int i = 0; i < decoded.dim(0); i++) {
                FloatTensor nhwc = DecodedImages.toUnitNhwc(decoded, i);
                boolean flagged = g.json().has("nsfw_content_detected") && g.json().get("nsfw_content_detected").isArray()
                        && g.json().get("nsfw_content_detected").get(i).booleanValue();
                if (!flagged) {
                    assertArrayEquals(imageNp.row(i).data(), nhwc.data(), name + " image " + i);
                }
            }
        }
    }

    @Test
    void roundsHalfToEvenAndClamps() {
        // x = 2·(k/255) − 1 lands on v·255 = k exactly; −0.99607843 → 0.5 → rint → 0 (half to even), 1.5 → 2.
        float[] d = {-2f, 2f, Float.NaN, 2f * (0.5f / 255f) - 1f, 2f * (1.5f / 255f) - 1f, 0f};
        FloatTensor t = new FloatTensor(new float[] {d[0], d[1], d[2], d[3], d[4], d[5]}, 1, 3, 1, 2);
        RgbImage img = DecodedImages.toPil(t).get(0);
        // channel 0 = (d0, d1), channel 1 = (d2, d3), channel 2 = (d4, d5)
        assertEquals(0, img.get(0, 0, 0));
        assertEquals(255, img.get(1, 0, 0));
        assertEquals(0, img.get(0, 0, 1), "NaN renders as 0");
        assertEquals(128, img.get(1, 0, 2), "0 → 0.5 → 127.5 → 128 (half to even)");
    }
}
