package org.cyclediffusion.core.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The in-memory forms the server uses: the same pixels as a file read, the same bytes as a file write. */
class ImageFilesBytesTest {
    @TempDir
    Path dir;

    @Test
    void pngBytesAreTheBytesWritePngWrites() throws Exception {
        RgbImage image = ImageFiles.read(Fixtures.image("img_b_96x64.png"));
        Map<String, String> text = new LinkedHashMap<>();
        text.put("Software", "cyclediffusion test");
        text.put("Comment", "{\"prompt\": \"ein Elefant \u00fcber \u6771\u4eac\"}"); // not Latin-1: an iTXt chunk
        Path file = dir.resolve("o.png");
        ImageFiles.writePng(file, image, text);
        assertArrayEquals(Files.readAllBytes(file), ImageFiles.pngBytes(image, text));
    }

    @Test
    void bytesDecodeToTheSamePixelsAsTheFile() throws Exception {
        for (String name : new String[] {"img_a_64x64.png", "img_d_80x56.png"}) {
            Path p = Fixtures.image(name);
            RgbImage fromFile = ImageFiles.read(p);
            RgbImage fromBytes = ImageFiles.read(Files.readAllBytes(p), "upload", Long.MAX_VALUE);
            assertEquals(fromFile.width(), fromBytes.width());
            assertArrayEquals(fromFile.rgb(), fromBytes.rgb(), name);
        }
    }

    @Test
    void thePixelLimitIsCheckedFromTheHeader() throws Exception {
        byte[] png = Files.readAllBytes(Fixtures.image("img_a_64x64.png"));
        ImageTooLargeException e = assertThrows(ImageTooLargeException.class, () -> ImageFiles.read(png, "upload \"a.png\"", 64 * 63));
        assertEquals("upload \"a.png\" is 64x64 = 4096 pixels, more than the limit of 4032", e.getMessage());
        InvalidInputException empty = assertThrows(InvalidInputException.class, () -> ImageFiles.read(new byte[0], "upload \"e.png\"", 100));
        assertTrue(empty.getMessage().startsWith("upload \"e.png\" is empty (0 bytes)"), empty.getMessage());
    }
}
