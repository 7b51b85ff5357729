package org.cyclediffusion.core.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Writes a safetensors file atomically (through {@link AtomicFiles}), laid out as the reference's
 * {@code serialize}: an 8-byte little-endian header length, a JSON header padded with spaces to a
 * multiple of 8, then the tensors back to back in the order they were added.
 *
 * <p>Tensor bytes are produced by a callback at write time, so a file larger than the heap (SD's
 * fp32 UNet is 3.4 GB) streams through without being held in memory. Small host tensors are added
 * with {@link #f32(String, FloatTensor)}.
 */
public final class SafetensorsWriter {
    /** Fills exactly {@code byteSize} bytes of one tensor, little-endian, into {@code out}. */
    @FunctionalInterface
    public interface TensorBytes {
        void writeTo(OutputStream out) throws IOException;
    }

    private record Entry(String name, SafetensorsDType dtype, long[] shape, long byteSize, TensorBytes bytes) {
    }

    private final List<Entry> entries = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** A {@code __metadata__} entry (string to string, as the format requires). */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** A tensor whose {@code numel · dtype.bytes()} bytes {@code bytes} writes when the file is written. */
    public SafetensorsWriter add(String name, SafetensorsDType dtype, long[] shape, TensorBytes bytes) {
        if (entries.stream().anyMatch(e -> e.name.equals(name)) || name.equals("__metadata__")) {
            throw new IllegalArgumentException("duplicate or reserved tensor name '" + name + "'");
        }
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
            }
            numel = Math.multiplyExact(numel, d);
        }
        entries.add(new Entry(name, dtype, shape.clone(), Math.multiplyExact(numel, dtype.bytes()), bytes));
        return this;
    }

    /** A float32 host tensor. */
    public SafetensorsWriter f32(String name, FloatTensor t) {
        int[] s = t.shape();
        long[] shape = new long[s.length];
        for (int i = 0; i < s.length; i++) {
            shape[i] = s[i];
        }
        float[] data = t.data();
        return add(name, SafetensorsDType.F32, shape, out -> {
            ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            int i = 0;
            while (i < data.length) {
                b.clear();
                int n = Math.min(data.length - i, b.capacity() / 4);
                b.asFloatBuffer().put(data, i, n);
                out.write(b.array(), 0, 4 * n);
                i += n;
            }
        });
    }

    /** An int64 tensor (timesteps, ids). */
    public SafetensorsWriter i64(String name, long[] shape, long... values) {
        return add(name, SafetensorsDType.I64, shape, out -> {
            ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(values);
            out.write(b.array());
        });
    }

    /** Writes the file atomically; a callback that writes the wrong number of bytes fails the write. */
    public void write(Path target) {
        byte[] header = header();
        AtomicFiles.write(target, out -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
            out.write(len.array());
            out.write(header);
            for (Entry e : entries) {
                CountingStream counted = new CountingStream(out);
                e.bytes.writeTo(counted);
                if (counted.count != e.byteSize) {
                    throw new IOException("tensor '" + e.name + "': wrote " + counted.count + " bytes, expected " + e.byteSize);
                }
            }
        });
    }

    private byte[] header() {
        StringBuilder json = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            json.append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                json.append(first ? "" : ",").append(quote(m.getKey())).append(':').append(quote(m.getValue()));
                first = false;
            }
            json.append('}');
        }
        long offset = 0;
        for (Entry e : entries) {
            if (json.length() > 1) {
                json.append(',');
            }
            json.append(quote(e.name)).append(":{\"dtype\":\"").append(e.dtype.name()).append("\",\"shape\":[");
            for (int i = 0; i < e.shape.length; i++) {
                json.append(i == 0 ? "" : ",").append(e.shape[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + e.byteSize).append("]}");
            offset += e.byteSize;
        }
        json.append('}');
        while (json.toString().getBytes(StandardCharsets.UTF_8).length % 8 != 0) {
            json.append(' ');
        }
        return json.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    private static final class CountingStream extends OutputStream {
        private final OutputStream out;
        long count;

        CountingStream(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
