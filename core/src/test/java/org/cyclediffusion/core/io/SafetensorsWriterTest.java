package org.cyclediffusion.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsThroughTheValidatingReader() {
        Path f = dir.resolve("t.safetensors");
        FloatTensor a = new FloatTensor(new float[] {1f, -2.5f, Float.MIN_VALUE, 3e38f, 0f, 7f}, 2, 3);
        new SafetensorsWriter().metadata("note", "quote \" and \\ and \n")
                .f32("a", a)
                .i64("t", new long[] {3}, 981, 961, 941)
                .f32("empty", new FloatTensor(new float[0], 0, 4))
                .write(f);
        try (SafetensorsFile r = SafetensorsFile.open(f)) {
            assertArrayEquals(a.data(), r.floatTensor("a").data());
            assertArrayEquals(new int[] {2, 3}, r.floatTensor("a").shape());
            assertArrayEquals(new long[] {981, 961, 941}, r.longs("t"));
            assertEquals("quote \" and \\ and \n", r.metadata().get("note"));
            assertEquals(0, r.info("empty").numel());
        }
    }

    @Test
    void aCallbackWritingTheWrongSizeLeavesNoFile() {
        Path f = dir.resolve("bad.safetensors");
        SafetensorsWriter w = new SafetensorsWriter().add("x", SafetensorsDType.F32, new long[] {4}, out -> out.write(new byte[12]));
        assertThrows(CycleDiffusionException.class, () -> w.write(f));
        assertFalse(Files.exists(f));
    }
}
