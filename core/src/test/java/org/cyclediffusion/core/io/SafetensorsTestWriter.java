package org.cyclediffusion.core.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Writes small safetensors files for tests, independently of the reader: a well-formed file laid
 * out as the reference's {@code serialize} does (header padded with spaces to a multiple of 8,
 * tensors back to back from offset 0), or raw bytes with any header one cares to break.
 */
final class SafetensorsTestWriter {
    private record Entry(String name, String dtype, long[] shape, byte[] data) {
    }

    private final List<Entry> entries = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private boolean reverseHeader;

    SafetensorsTestWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Lists the tensors in the header in reverse order of their data (the reader must sort by offset). */
    SafetensorsTestWriter reverseHeaderOrder() {
        reverseHeader = true;
        return this;
    }

    SafetensorsTestWriter add(String name, String dtype, long[] shape, byte[] data) {
        entries.add(new Entry(name, dtype, shape, data));
        return this;
    }

    SafetensorsTestWriter f32(String name, long[] shape, float... v) {
        ByteBuffer b = le(4 * v.length);
        b.asFloatBuffer().put(v);
        return add(name, "F32", shape, b.array());
    }

    SafetensorsTestWriter f64(String name, long[] shape, double... v) {
        ByteBuffer b = le(8 * v.length);
        b.asDoubleBuffer().put(v);
        return add(name, "F64", shape, b.array());
    }

    SafetensorsTestWriter i64(String name, long[] shape, long... v) {
        ByteBuffer b = le(8 * v.length);
        b.asLongBuffer().put(v);
        return add(name, "I64", shape, b.array());
    }

    SafetensorsTestWriter i32(String name, long[] shape, int... v) {
        ByteBuffer b = le(4 * v.length);
        b.asIntBuffer().put(v);
        return add(name, "I32", shape, b.array());
    }

    /** 16-bit patterns (F16, BF16, I16, U16) given as ints so that literals like 0xfc00 need no cast. */
    SafetensorsTestWriter bits16(String name, String dtype, long[] shape, int... bits) {
        ByteBuffer b = le(2 * bits.length);
        for (int x : bits) {
            b.putShort((short) x);
        }
        return add(name, dtype, shape, b.array());
    }

    SafetensorsTestWriter bytes(String name, String dtype, long[] shape, int... v) {
        byte[] d = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = (byte) v[i];
        }
        return add(name, dtype, shape, d);
    }

    /** The JSON header as the reference writes it (before padding). */
    String header() {
        List<String> parts = new ArrayList<>();
        if (!metadata.isEmpty()) {
            parts.add("\"__metadata__\":{" + metadata.entrySet().stream()
                    .map(e -> quote(e.getKey()) + ":" + quote(e.getValue())).collect(Collectors.joining(",")) + "}");
        }
        List<String> tensors = new ArrayList<>();
        long offset = 0;
        for (Entry e : entries) {
            tensors.add(quote(e.name) + ":{\"dtype\":" + quote(e.dtype) + ",\"shape\":" + shapeJson(e.shape)
                    + ",\"data_offsets\":[" + offset + "," + (offset + e.data.length) + "]}");
            offset += e.data.length;
        }
        if (reverseHeader) {
            java.util.Collections.reverse(tensors);
        }
        parts.addAll(tensors);
        return "{" + String.join(",", parts) + "}";
    }

    byte[] data() {
        int n = entries.stream().mapToInt(e -> e.data.length).sum();
        ByteBuffer b = ByteBuffer.allocate(n);
        entries.forEach(e -> b.put(e.data));
        return b.array();
    }

    Path write(Path file) {
        return raw(file, header(), data());
    }

    /** A file with the given header text (padded with spaces to a multiple of 8) and data bytes. */
    static Path raw(Path file, String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        byte[] hp = Arrays.copyOf(h, padded);
        Arrays.fill(hp, h.length, padded, (byte) ' ');
        return rawBytes(file, padded, hp, data);
    }

    /** A file whose length field says {@code headerLength}, followed by {@code header} and {@code data} verbatim. */
    static Path rawBytes(Path file, long headerLength, byte[] header, byte[] data) {
        ByteBuffer b = le(8 + header.length + data.length);
        b.putLong(headerLength).put(header).put(data);
        try {
            return Files.write(file, b.array());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static long[] shape(long... dims) {
        return dims;
    }

    private static String shapeJson(long[] s) {
        return Arrays.stream(s).mapToObj(Long::toString).collect(Collectors.joining(",", "[", "]"));
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }
}
