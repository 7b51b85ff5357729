package org.cyclediffusion.core.image;

import static org.cyclediffusion.core.image.PngBytes.GRAY;
import static org.cyclediffusion.core.image.PngBytes.GRAY_ALPHA;
import static org.cyclediffusion.core.image.PngBytes.PALETTE;
import static org.cyclediffusion.core.image.PngBytes.RGB;
import static org.cyclediffusion.core.image.PngBytes.RGBA;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.io.AtomicFiles;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ImageFiles}: reading gives what {@code Image.open(p).convert("RGB")} gives in Pillow 9.4.0
 * (every expectation below was also checked against Pillow 9.4.0 itself on the same bytes), and
 * writing is an atomic PNG with text chunks.
 */
class ImageFilesTest {
    @TempDir
    Path dir;

    /** name, width, height, PNG bytes, expected RGB bytes. */
    static Stream<Arguments> pngConversions() {
        int[] plte = {0xFF0000, 0x00FF00, 0x0000FF};
        return Stream.of(
                png("gray8", 4, 2, 8, GRAY, new int[] {0, 17, 128, 255, 1, 2, 3, 254}, null, null,
                        gray(0, 17, 128, 255, 1, 2, 3, 254)),
                // Mode "I": convert("RGB") clips at 255, it does not scale.
                png("gray16_clips", 4, 2, 16, GRAY, new int[] {0, 100, 255, 256, 1000, 65535, 254, 0x1234}, null, null,
                        gray(0, 100, 255, 255, 255, 255, 254, 255)),
                png("gray1", 8, 1, 1, GRAY, new int[] {1, 0, 1, 1, 0, 0, 1, 0}, null, null,
                        gray(255, 0, 255, 255, 0, 0, 255, 0)),
                png("gray2", 4, 1, 2, GRAY, new int[] {0, 1, 2, 3}, null, null, gray(0, 85, 170, 255)),
                png("gray4", 4, 1, 4, GRAY, new int[] {0, 1, 8, 15}, null, null, gray(0, 17, 136, 255)),
                png("gray8_trns", 2, 1, 8, GRAY, new int[] {17, 18}, null, new byte[] {0, 17}, gray(17, 18)),
                png("gray_alpha8", 2, 2, 8, GRAY_ALPHA, new int[] {10, 0, 20, 255, 30, 128, 40, 7}, null, null,
                        gray(10, 20, 30, 40)),
                png("gray_alpha16", 2, 1, 16, GRAY_ALPHA, new int[] {0x12FF, 0, 0xABCD, 0xFFFF}, null, null,
                        gray(0x12, 0xAB)),
                png("rgb16_msb", 2, 1, 16, RGB, new int[] {0x12FF, 0x3400, 0xFFFF, 0x0001, 0x8080, 0x7FFF}, null, null,
                        rgb(0x12, 0x34, 0xFF, 0x00, 0x80, 0x7F)),
                png("rgb8_trns", 2, 1, 8, RGB, new int[] {1, 2, 3, 4, 5, 6}, null, new byte[] {0, 1, 0, 2, 0, 3},
                        rgb(1, 2, 3, 4, 5, 6)),
                // RGBA → RGB drops alpha: a fully transparent pixel keeps its colour.
                png("rgba8", 2, 1, 8, RGBA, new int[] {1, 2, 3, 0, 250, 251, 252, 128}, null, null,
                        rgb(1, 2, 3, 250, 251, 252)),
                png("rgba16", 1, 1, 16, RGBA, new int[] {0x0102, 0x0304, 0x0506, 0}, null, null, rgb(1, 3, 5)),
                // Index 5 is beyond the 3-entry PLTE: Pillow's palette starts as a gray ramp.
                png("palette8", 4, 1, 8, PALETTE, new int[] {0, 1, 2, 5}, plte, null,
                        rgb(255, 0, 0, 0, 255, 0, 0, 0, 255, 5, 5, 5)),
                png("palette4", 3, 1, 4, PALETTE, new int[] {2, 1, 0}, plte, null, rgb(0, 0, 255, 0, 255, 0, 255, 0, 0)),
                png("palette2", 3, 1, 2, PALETTE, new int[] {2, 0, 1}, plte, null, rgb(0, 0, 255, 255, 0, 0, 0, 255, 0)),
                png("palette1", 9, 1, 1, PALETTE, new int[] {1, 0, 0, 0, 0, 0, 0, 0, 1}, plte, null,
                        rgb(0, 255, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 255, 0)),
                png("palette8_trns", 2, 1, 8, PALETTE, new int[] {0, 1}, plte, new byte[] {0, (byte) 128},
                        rgb(255, 0, 0, 0, 255, 0)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pngConversions")
    void pngConvertsToRgbAsPillowDoes(String name, int width, int height, byte[] png, byte[] expected) throws IOException {
        Path file = dir.resolve(name + ".png");
        Files.write(file, png);
        RgbImage image = ImageFiles.read(file);
        assertEquals(width, image.width(), name);
        assertEquals(height, image.height(), name);
        assertArrayEquals(expected, image.rgb(), name);
    }

    @Test
    void pngRoundTripKeepsPixelsAndText() {
        RgbImage image = PilResampleTest.pattern("noise", 13, 7);
        Map<String, String> text = new LinkedHashMap<>();
        text.put("seed", "42");
        text.put("model", "tiny-sd");
        text.put("backend", "onnx");
        text.put("versions", "cyclediffusion 0.1.0; diffusers v0.23.0 parity");
        text.put("prompt", "A café at night — 夜"); // not Latin-1: stored as iTXt
        Path file = dir.resolve("out.png");
        ImageFiles.writePng(file, image, text);
        assertEquals(image, ImageFiles.read(file));
        assertEquals(text, ImageFiles.readPngText(file));
    }

    @Test
    void pngWithoutTextAndOverwrite() throws IOException {
        Path file = dir.resolve("a.png");
        ImageFiles.writePng(file, PilResampleTest.pattern("saw", 5, 4), Map.of());
        RgbImage second = PilResampleTest.pattern("noise", 6, 3);
        ImageFiles.writePng(file, second, null);
        assertEquals(second, ImageFiles.read(file));
        assertEquals(Map.of(), ImageFiles.readPngText(file));
        assertEquals(List.of(file), listDir());
    }

    @Test
    void atomicWriteLeavesNoTemporaryFile() throws IOException {
        Path file = dir.resolve("x.bin");
        AtomicFiles.write(file, out -> out.write(new byte[] {1, 2, 3}));
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(file));
        assertEquals(List.of(file), listDir());
    }

    @Test
    void failedAtomicWriteLeavesTargetUntouchedAndNoTemporaryFile() throws IOException {
        Path file = dir.resolve("x.bin");
        Files.write(file, new byte[] {9});
        CycleDiffusionException e = assertThrows(CycleDiffusionException.class, () -> AtomicFiles.write(file, out -> {
            out.write(new byte[100_000]);
            throw new IOException("disk full");
        }));
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("disk full"), e.getMessage());
        assertArrayEquals(new byte[] {9}, Files.readAllBytes(file));
        assertEquals(List.of(file), listDir());
        IllegalStateException bug = assertThrows(IllegalStateException.class,
                () -> AtomicFiles.write(file, out -> {
                    throw new IllegalStateException("bug");
                }));
        assertEquals("bug", bug.getMessage());
        assertEquals(List.of(file), listDir());
    }

    @Test
    void atomicWriteIntoMissingDirectoryNamesIt() {
        Path file = dir.resolve("missing/out.png");
        CycleDiffusionException e = assertThrows(CycleDiffusionException.class,
                () -> ImageFiles.writePng(file, RgbImage.black(2, 2), Map.of()));
        assertTrue(e.getMessage().contains(dir.resolve("missing").toString()), e.getMessage());
    }

    @Test
    void invalidTextKeywordIsRejectedBeforeWriting() {
        Path file = dir.resolve("k.png");
        CycleDiffusionException e = assertThrows(CycleDiffusionException.class,
                () -> ImageFiles.writePng(file, RgbImage.black(2, 2), Map.of(" seed", "1")));
        assertTrue(e.getMessage().contains("\" seed\""), e.getMessage());
        assertTrue(Files.notExists(file));
    }

    /**
     * A 16×16 4:2:0 JFIF JPEG (written by ImageIO, quality 0.75) and a gray one; the expected
     * digests are of {@code Image.open(f).convert("RGB").tobytes()} in Pillow 9.4.0 (libjpeg-turbo).
     */
    @Test
    void jpegDecodesAsPillowDoes() throws IOException {
        Path color = dir.resolve("c.jpg");
        Files.write(color, Base64.getDecoder().decode(JPEG_COLOR));
        RgbImage c = ImageFiles.read(color);
        assertEquals(16, c.width());
        assertEquals(JPEG_COLOR_PIL_SHA256, PilResampleTest.sha256(c.rgb()));
        Path gray = dir.resolve("g.jpeg");
        Files.write(gray, Base64.getDecoder().decode(JPEG_GRAY));
        RgbImage g = ImageFiles.read(gray);
        assertEquals(JPEG_GRAY_PIL_SHA256, PilResampleTest.sha256(g.rgb()));
        for (int i = 0; i < g.rgb().length; i += 3) {
            assertEquals(g.rgb()[i], g.rgb()[i + 1]);
            assertEquals(g.rgb()[i], g.rgb()[i + 2]);
        }
    }

    @Test
    void fixtureImagesReadAtTheirSizes() {
        RgbImage e = ImageFiles.read(Fixtures.image("img_e_70x60.png"));
        assertEquals(70, e.width());
        assertEquals(60, e.height());
    }

    @Test
    void errorsNameTheFile() throws IOException {
        Path missing = dir.resolve("nope.png");
        assertMessage(() -> ImageFiles.read(missing), missing + " does not exist");
        assertMessage(() -> ImageFiles.read(dir), "is a directory");
        Path garbage = dir.resolve("garbage.png");
        Files.writeString(garbage, "not an image at all");
        assertMessage(() -> ImageFiles.read(garbage), garbage + " is not a PNG, JPEG or WebP image");
        Path gif = dir.resolve("pic.gif");
        ImageIO.write(new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_INDEXED), "gif", gif.toFile());
        assertMessage(() -> ImageFiles.read(gif), gif + " is a GIF image; supported formats are PNG, JPEG and WebP");
        Path truncated = dir.resolve("truncated.png");
        byte[] full = PngBytes.encode(4, 4, 8, RGB, new int[48], null, null);
        Files.write(truncated, java.util.Arrays.copyOf(full, 40));
        assertMessage(() -> ImageFiles.read(truncated), "cannot decode image file " + truncated);
    }

    @Test
    void decompressionBombIsRefusedBeforeDecoding() throws IOException {
        // A valid 1x1 PNG whose IHDR then claims 20000 x 20000 (4e8 pixels > Pillow's 2 · 89478485).
        byte[] png = PngBytes.encode(1, 1, 8, RGB, new int[3], null, null);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(png);
        b.putInt(16, 20000).putInt(20, 20000);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(png, 12, 17);
        b.putInt(29, (int) crc.getValue());
        Path bomb = dir.resolve("bomb.png");
        Files.write(bomb, png);
        assertMessage(() -> ImageFiles.read(bomb), bomb + " is 20000x20000 = 400000000 pixels, more than the limit of 178956970");
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable call, String expectedPart) {
        CycleDiffusionException e = assertThrows(CycleDiffusionException.class, call);
        assertTrue(e.getMessage().contains(expectedPart), "message: " + e.getMessage() + "\nexpected to contain: " + expectedPart);
    }

    private List<Path> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    private static Arguments png(String name, int w, int h, int depth, int colorType, int[] samples, int[] palette,
            byte[] trns, byte[] expected) {
        return Arguments.of(name, w, h, PngBytes.encode(w, h, depth, colorType, samples, palette, trns), expected);
    }

    private static byte[] gray(int... v) {
        byte[] out = new byte[v.length * 3];
        for (int i = 0; i < v.length; i++) {
            out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = (byte) v[i];
        }
        return out;
    }

    private static byte[] rgb(int... v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (byte) v[i];
        }
        return out;
    }

    private static final String JPEG_COLOR = "/9j/4AAQSkZJRgABAgAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAx"
            + "NDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBgNDRgyIRwhMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIy"
            + "MjIyMjIyMjL/wAARCAAQABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUF"
            + "BAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVW"
            + "V1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi"
            + "4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAEC"
            + "AxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVm"
            + "Z2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq"
            + "8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDgdLtxpQBPzBup6eVj+ec/h/L3a08nQonlZMxhSzO3AiA7453Zz/nthafH/ZEca53B/mbt"
            + "5YH55zn8MflxF4zaHo1xIArMyBcHpACQP+BE7v8APbKVGGPUYRik9Oz5r277W/F9km28pf12jKrtyJvvzafK1rfP8//Z";
    private static final String JPEG_COLOR_PIL_SHA256 = "ce9d761aab1e23f726fdf2546b99a3cf47d889e965f0f0137e8a09862e016d99";
    private static final String JPEG_GRAY = "/9j/4AAQSkZJRgABAgAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAx"
            + "NDQ0Hyc5PTgyPC4zNDL/wAALCAAQABABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUF"
            + "BAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVW"
            + "V1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi"
            + "4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/AMHwnosRgsANPLKxXJ2Luc7TjjOSCc+nT16+mC2sbZLW3nkaxkuLyEL5MYZnUFNq"
            + "hkOEVnMYdsYw+3ILg1j+G7OGC308yXTFiyIVjRXCBl28qAfVQSenJOAM1z/xHvbuwu7V73TVjvLqB5orwXcysjI7+SF8twhliDgk"
            + "/MMucYGN3//Z";
    private static final String JPEG_GRAY_PIL_SHA256 = "4eae6ac0310ca75b1297ce37bece0a8082a44dceac801b69afa978c268408274";
}
