package org.cyclediffusion.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link NpyWriter} writes the bytes {@code numpy.save} (numpy 1.24.2) writes for float32 C-order arrays. */
class NpyWriterTest {
    @TempDir
    Path dir;

    /** The header text after magic, version and length, as numpy 1.24.2 writes it (always 118 bytes here). */
    @Test
    void headerBytesAreNumpys() {
        assertHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64), }" + " ".repeat(50) + "\n", 1, 3, 64, 64);
        assertHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }" + " ".repeat(60) + "\n", 5);
        assertHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (), }" + " ".repeat(62) + "\n");
        assertHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 8, 12), }" + " ".repeat(51) + "\n", 2, 4, 8, 12);
        assertHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1234567, 0), }" + " ".repeat(52) + "\n", 1234567, 0);
    }

    private static void assertHeader(String dict, int... shape) {
        byte[] h = NpyWriter.header(shape);
        assertEquals(128, h.length, "data must start on a 64-byte boundary");
        assertArrayEquals(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0}, java.util.Arrays.copyOf(h, 10));
        assertEquals(dict, new String(h, 10, h.length - 10, StandardCharsets.ISO_8859_1));
    }

    /** {@code np.save(f, np.array([[1.5, -2.0, np.inf], [np.nan, 1e-40, -0.0]], dtype='<f4'))}, byte for byte. */
    @Test
    void wholeFileMatchesNumpy() throws IOException {
        String expected = "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c"
                + "20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020"
                + "2020202020202020202020202020202020202020202020202020200a0000c03f000000c00000807f0000c07fc21601000000"
                + "0080";
        Path file = dir.resolve("a.npy");
        NpyWriter.write(file, new FloatTensor(new float[] {1.5f, -2.0f, Float.POSITIVE_INFINITY, Float.NaN, 1e-40f, -0.0f}, 2, 3));
        assertEquals(expected, HexFormat.of().formatHex(Files.readAllBytes(file)));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(file), s.toList(), "no temporary file left behind");
        }
    }

    @Test
    void largeTensorIsWrittenCompletely() throws IOException {
        float[] data = new float[100_003];
        for (int i = 0; i < data.length; i++) {
            data[i] = i * 0.25f - 7;
        }
        Path file = dir.resolve("big.npy");
        NpyWriter.write(file, new FloatTensor(data, data.length));
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(128 + 4 * data.length, bytes.length);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes, 128, 4 * data.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : data) {
            assertEquals(Float.floatToRawIntBits(v), Float.floatToRawIntBits(b.getFloat()));
        }
    }
}
