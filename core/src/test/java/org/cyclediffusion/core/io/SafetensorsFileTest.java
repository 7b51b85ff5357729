package org.cyclediffusion.core.io;

import static org.cyclediffusion.core.io.SafetensorsTestWriter.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.management.UnixOperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Round trips of every dtype through files written in the test, and the channel's life cycle. */
class SafetensorsFileTest {
    @TempDir
    Path dir;

    @Test
    void f32RoundTripKeepsEveryBitPattern() {
        float[] v = {0f, -0f, 1f, -2.5f, Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.NaN, 0.1f, (float) Math.PI};
        Path f = new SafetensorsTestWriter().f32("w", shape(3, 4), v).write(dir.resolve("f32.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            FloatTensor t = st.floatTensor("w");
            assertArrayEquals(new int[] {3, 4}, t.shape());
            for (int i = 0; i < v.length; i++) {
                assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(t.data()[i]), "element " + i);
            }
            assertEquals(SafetensorsDType.F32, st.info("w").dtype());
        }
    }

    @Test
    void f64IsRoundedToNearestFloat() {
        double[] v = {0.1, -1e-300, 1e300, 1 + 0x1p-24, 1 + 0x1p-24 + 0x1p-50, Double.NaN, 16777217.0};
        Path f = new SafetensorsTestWriter().f64("d", shape(7), v).write(dir.resolve("f64.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            float[] got = st.floatTensor("d").data();
            assertEquals(0.1f, got[0]);
            assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(got[1]), "underflow keeps the sign");
            assertEquals(Float.POSITIVE_INFINITY, got[2], "overflow to infinity, as torch's .float()");
            assertEquals(1f, got[3], "a tie rounds to even");
            assertEquals(Math.nextUp(1f), got[4], "just above the tie rounds up");
            assertTrue(Float.isNaN(got[5]));
            assertEquals(16777216f, got[6]);
        }
    }

    @Test
    void f16BitPatternsWidenExactly() {
        int[] bits = {0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x3555, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x8001};
        float[] expected = {0f, -0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, 1f, -2f, 0.333251953125f, 65504f, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.NaN, -0x1p-24f};
        Path f = new SafetensorsTestWriter().bits16("h", "F16", shape(bits.length), bits).write(dir.resolve("f16.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            float[] got = st.floatTensor("h").data();
            for (int i = 0; i < bits.length; i++) {
                if (Float.isNaN(expected[i])) {
                    assertTrue(Float.isNaN(got[i]), "element " + i);
                } else {
                    assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(got[i]),
                            String.format("half 0x%04x", bits[i]));
                }
            }
            // Back through the narrowing conversion: every non-NaN pattern comes back unchanged.
            for (int i = 0; i < bits.length; i++) {
                if (!Float.isNaN(got[i])) {
                    assertEquals(bits[i], HalfFloats.floatToHalf(got[i]) & 0xffff, String.format("half 0x%04x", bits[i]));
                }
            }
        }
    }

    @Test
    void bf16BitPatternsWidenExactly() {
        int[] bits = {0x0000, 0x8000, 0x3f80, 0xc020, 0x0001, 0x7f7f, 0x7f80, 0xff80, 0x7fc0, 0x3eab};
        float[] expected = {0f, -0f, 1f, -2.5f, 0x1p-133f, 0x1.fep127f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            0.333984375f};
        Path f = new SafetensorsTestWriter().bits16("b", "BF16", shape(2, 5), bits).write(dir.resolve("bf16.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            float[] got = st.floatTensor("b").data();
            for (int i = 0; i < bits.length; i++) {
                if (Float.isNaN(expected[i])) {
                    assertTrue(Float.isNaN(got[i]));
                } else {
                    assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(got[i]),
                            String.format("bf16 0x%04x", bits[i]));
                    assertEquals(bits[i], HalfFloats.floatToBfloat16(got[i]) & 0xffff);
                }
            }
        }
    }

    @Test
    void integerAndBoolDtypesRoundTrip() {
        Path f = new SafetensorsTestWriter()
                .i64("i64", shape(4), Long.MIN_VALUE, -1, 0, Long.MAX_VALUE)
                .i32("i32", shape(2, 2), Integer.MIN_VALUE, -7, 49406, Integer.MAX_VALUE)
                .bits16("i16", "I16", shape(2), 0x8000, 0x7fff)
                .bits16("u16", "U16", shape(2), 0xffff, 1)
                .add("u32", "U32", shape(1), new byte[] {-1, -1, -1, -1})
                .add("u64", "U64", shape(1), new byte[] {-1, -1, -1, -1, -1, -1, -1, -1})
                .bytes("i8", "I8", shape(3), 0x80, 0xff, 0x7f)
                .bytes("u8", "U8", shape(3), 0, 128, 255)
                .bytes("mask", "BOOL", shape(4), 1, 0, 0, 1)
                .write(dir.resolve("ints.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertArrayEquals(new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}, st.longs("i64"));
            assertArrayEquals(new long[] {Integer.MIN_VALUE, -7, 49406, Integer.MAX_VALUE}, st.longs("i32"));
            assertArrayEquals(new long[] {-32768, 32767}, st.longs("i16"));
            assertArrayEquals(new long[] {65535, 1}, st.longs("u16"));
            assertArrayEquals(new long[] {4294967295L}, st.longs("u32"));
            assertArrayEquals(new long[] {-1L}, st.longs("u64"), "U64 comes back as its two's-complement bits");
            assertArrayEquals(new long[] {-128, -1, 127}, st.longs("i8"));
            assertArrayEquals(new long[] {0, 128, 255}, st.longs("u8"));
            assertArrayEquals(new long[] {1, 0, 0, 1}, st.longs("mask"));
            assertArrayEquals(new long[] {2, 2}, st.info("i32").shape());
            assertEquals(9, st.tensors().size());
        }
    }

    @Test
    void scalarsEmptyTensorsMetadataAndHeaderOrder() {
        Path f = new SafetensorsTestWriter()
                .metadata("format", "pt")
                .metadata("note", "ünïcødé \"quoted\"")
                .f32("scalar", shape(), 0.25f)
                .f32("empty", shape(0, 3))
                .i64("ids", shape(1, 3), 49406, 320, 49407)
                .reverseHeaderOrder()
                .write(dir.resolve("misc.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(Map.of("format", "pt", "note", "ünïcødé \"quoted\""), st.metadata());
            FloatTensor s = st.floatTensor("scalar");
            assertEquals(0, s.rank());
            assertEquals(0.25f, s.data()[0]);
            FloatTensor e = st.floatTensor("empty");
            assertArrayEquals(new int[] {0, 3}, e.shape());
            assertEquals(0, e.size());
            assertArrayEquals(new long[] {49406, 320, 49407}, st.longs("ids"));
            assertEquals(List.of("ids", "empty", "scalar"), new ArrayList<>(st.tensors().keySet()), "tensors() keeps the header's order");
            assertEquals(4, st.info("empty").begin());
            assertEquals(4, st.info("empty").end());
        }
    }

    @Test
    void conversionToTheWrongKindNamesFileTensorAndDtype() {
        Path f = new SafetensorsTestWriter().i64("ids", shape(1), 7).f32("w", shape(1), 1f).bytes("fp8", "F8_E4M3", shape(1), 0x38)
                .write(dir.resolve("kinds.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            ConfigException a = assertThrows(ConfigException.class, () -> st.floatTensor("ids"));
            assertTrue(a.getMessage().contains(f.toString()) && a.getMessage().contains("'ids' is I64"), a.getMessage());
            ConfigException b = assertThrows(ConfigException.class, () -> st.longs("w"));
            assertTrue(b.getMessage().contains("'w' is F32") && b.getMessage().contains("integer"), b.getMessage());
            ConfigException c = assertThrows(ConfigException.class, () -> st.floatTensor("fp8"));
            assertTrue(c.getMessage().contains("'fp8' is F8_E4M3"), c.getMessage());
            assertEquals((byte) 0x38, st.buffer("fp8").get(0), "an unconverted dtype is still readable as bytes");
        }
    }

    @Test
    void missingTensorNamesFileTensorAndSomeKnownNames() {
        Path f = new SafetensorsTestWriter().f32("conv_in.weight", shape(1), 1f).write(dir.resolve("names.safetensors"));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            ConfigException e = assertThrows(ConfigException.class, () -> st.floatTensor("conv_in.bias"));
            String m = e.getMessage();
            assertTrue(m.contains(f.toString()) && m.contains("'conv_in.bias'") && m.contains("conv_in.weight"), m);
            assertTrue(!st.has("conv_in.bias") && st.has("conv_in.weight"));
        }
    }

    @Test
    void closeReleasesTheChannelAndLaterReadsFailClearly() {
        Path f = new SafetensorsTestWriter().f32("w", shape(2), 1f, 2f).write(dir.resolve("close.safetensors"));
        SafetensorsFile st = SafetensorsFile.open(f);
        ByteBuffer mapped = st.buffer("w");
        st.close();
        st.close(); // idempotent
        CycleDiffusionException e = assertThrows(CycleDiffusionException.class, () -> st.floatTensor("w"));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("after close()"), e.getMessage());
        assertEquals(2f, mapped.getFloat(4), "a mapping taken before close() stays valid (FileChannel.map contract)");
        assertEquals(2, st.info("w").numel(), "the header stays readable after close()");
    }

    @Test
    void openAndCloseDoNotLeakFileDescriptorsEvenWhenOpenFails() {
        assumeTrue(ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean, "needs a Unix JVM");
        UnixOperatingSystemMXBean os = (UnixOperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        Path good = new SafetensorsTestWriter().f32("w", shape(2), 1f, 2f).write(dir.resolve("good.safetensors"));
        Path bad = SafetensorsTestWriter.raw(dir.resolve("bad.safetensors"), "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                new byte[4]);
        int n = 64;
        long before = os.getOpenFileDescriptorCount();
        List<SafetensorsFile> open = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            open.add(SafetensorsFile.open(good));
        }
        long whileOpen = os.getOpenFileDescriptorCount();
        assertTrue(whileOpen - before >= n, "each open file holds a descriptor: " + before + " -> " + whileOpen);
        open.forEach(SafetensorsFile::close);
        for (int i = 0; i < n; i++) {
            assertThrows(ConfigException.class, () -> SafetensorsFile.open(bad));
        }
        long after = os.getOpenFileDescriptorCount();
        assertTrue(after - before < n / 4, "descriptors released by close() and by a failed open(): " + before + " -> " + after);
    }
}
