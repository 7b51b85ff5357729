package org.cyclediffusion.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.cyclediffusion.core.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files over 2 GiB (SD 1.x's fp32 UNet is 3.4 GB): a sparse file of about 2.2 GB, which costs a
 * few kilobytes of disk, with small tensors placed past the 2 GiB mark, where an int offset or a
 * single whole-file mapping would fail.
 */
class SafetensorsLargeFileTest {
    /** Past Integer.MAX_VALUE (2,147,483,647) and not page aligned, to exercise the mapping's alignment. */
    private static final long PAD = 2_200_000_003L;

    @TempDir
    Path dir;

    @Test
    void tensorsBeyondTwoGibibytesAreMappedAndRead() throws IOException {
        float[] far = {1.5f, -2.25f, 3e-8f, Float.MAX_VALUE};
        long[] ids = {Long.MIN_VALUE, 49406, 49407};
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"pad\":{\"dtype\":\"U8\",\"shape\":[" + PAD + "],\"data_offsets\":[0," + PAD + "]},"
                + "\"far\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[" + PAD + "," + (PAD + 16) + "]},"
                + "\"ids\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[" + (PAD + 16) + "," + (PAD + 40) + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer tail = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : far) {
            tail.putFloat(v);
        }
        for (long v : ids) {
            tail.putLong(v);
        }
        Path file = dir.resolve("sparse.safetensors");
        long dataStart = 8 + h.length;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(dataStart + PAD + 40); // a hole, no disk blocks
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
            raf.write(len.array());
            raf.write(h);
            raf.seek(dataStart + PAD);
            raf.write(tail.array());
        }
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            assertTrue(dataStart + st.info("far").begin() > Integer.MAX_VALUE);
            assertArrayEquals(far, st.floatTensor("far").data());
            assertArrayEquals(new int[] {2, 2}, st.floatTensor("far").shape());
            assertArrayEquals(ids, st.longs("ids"));
            assertEquals("pt", st.metadata().get("format"));
            // The padding itself is one tensor over 2 GiB: readable by nobody on the heap, refused by name.
            ConfigException e = assertThrows(ConfigException.class, () -> st.buffer("pad"));
            assertTrue(e.getMessage().contains("'pad'") && e.getMessage().contains("over 2 GiB"), e.getMessage());
            ConfigException e2 = assertThrows(ConfigException.class, () -> st.longs("pad"));
            assertTrue(e2.getMessage().contains("'pad'") && e2.getMessage().contains("more than a Java array holds"), e2.getMessage());
        }
    }
}
