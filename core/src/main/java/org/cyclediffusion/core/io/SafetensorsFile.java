package org.cyclediffusion.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * A safetensors file (8-byte little-endian header length, JSON header, raw little-endian data),
 * memory-mapped. Each tensor is mapped on its own, so files over 2 GiB (SD's fp32 UNet is 3.4 GB)
 * work as long as no single tensor exceeds 2 GiB; nothing is copied through the Java heap until a
 * caller asks for a {@link FloatTensor}.
 *
 * <p>The header is validated completely when the file opens: a truncated file, a header length
 * that does not fit, an unknown dtype, a shape that does not match its byte range, offsets out of
 * range or overlapping all fail with the file and tensor named.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Upper bound the reference implementation also applies to the header (100 MB). */
    private static final long MAX_HEADER = 100L * 1024 * 1024;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    /** One tensor's entry in the header; offsets are relative to the start of the data section. */
    public record TensorInfo(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        public int[] intShape() {
            int[] s = new int[shape.length];
            for (int i = 0; i < s.length; i++) {
                s[i] = Math.toIntExact(shape[i]);
            }
            return s;
        }
    }

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new ConfigException(path + ": safetensors file not found");
        } catch (IOException e) {
            throw new ConfigException(path + ": cannot open (" + e.getMessage() + ")", e);
        }
        try {
            return parse(path, ch);
        } catch (RuntimeException | IOException e) {
            try {
                ch.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof ConfigException ce) {
                throw ce;
            }
            throw new ConfigException(path + ": cannot read safetensors header (" + e.getMessage() + ")", e);
        }
    }

    private static SafetensorsFile parse(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new ConfigException(path + ": truncated safetensors file (" + size + " bytes, expected at least the 8-byte header length)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long headerLen = lenBuf.flip().getLong();
        if (headerLen <= 0 || headerLen > MAX_HEADER || headerLen > size - 8) {
            throw new ConfigException(path + ": bad safetensors header length " + Long.toUnsignedString(headerLen)
                    + " (file has " + size + " bytes; expected 1 to " + Math.min(MAX_HEADER, size - 8) + ")");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        readFully(ch, hb, 8);
        JsonNode header;
        try {
            header = MAPPER.readTree(new String(hb.array(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new ConfigException(path + ": safetensors header is not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (header == null || !header.isObject()) {
            throw new ConfigException(path + ": safetensors header must be a JSON object");
        }
        long dataStart = 8 + headerLen;
        long dataSize = size - dataStart;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                v.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            String where = path + ": tensor '" + name + "'";
            if (!v.isObject() || !v.has("dtype") || !v.has("shape") || !v.has("data_offsets")) {
                throw new ConfigException(where + ": expected {dtype, shape, data_offsets}, found " + v);
            }
            SafetensorsDType dtype = SafetensorsDType.parse(v.get("dtype").asText(), where);
            JsonNode sh = v.get("shape");
            JsonNode off = v.get("data_offsets");
            if (!sh.isArray() || !off.isArray() || off.size() != 2) {
                throw new ConfigException(where + ": shape must be a list and data_offsets a pair, found " + v);
            }
            long[] shape = new long[sh.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                if (!sh.get(i).canConvertToLong() || sh.get(i).asLong() < 0) {
                    throw new ConfigException(where + ": bad dimension " + sh.get(i) + " in shape " + sh);
                }
                shape[i] = sh.get(i).asLong();
                numel = Math.multiplyExact(numel, shape[i]);
            }
            long begin = off.get(0).asLong();
            long end = off.get(1).asLong();
            if (begin < 0 || end < begin || end > dataSize) {
                throw new ConfigException(where + ": data_offsets [" + begin + ", " + end + "] out of range (data section has "
                        + dataSize + " bytes" + (end > dataSize ? "; the file is truncated?" : "") + ")");
            }
            if (numel * dtype.bytes() != end - begin) {
                throw new ConfigException(where + ": shape " + sh + " of " + dtype + " needs " + numel * dtype.bytes()
                        + " bytes, data_offsets cover " + (end - begin));
            }
            tensors.put(name, new TensorInfo(name, dtype, shape, begin, end));
        }
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        for (int i = 1; i < sorted.size(); i++) {
            TensorInfo a = sorted.get(i - 1);
            TensorInfo b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new ConfigException(path + ": tensors '" + a.name() + "' [" + a.begin() + ", " + a.end() + ") and '" + b.name()
                        + "' [" + b.begin() + ", " + b.end() + ") overlap");
            }
        }
        return new SafetensorsFile(path, ch, dataStart, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new ConfigException(path + ": no tensor named '" + name + "'");
        }
        return t;
    }

    /** The tensor's raw bytes, memory-mapped (read-only, little-endian). */
    public ByteBuffer buffer(String name) {
        TensorInfo t = info(name);
        long len = t.end() - t.begin();
        if (len > Integer.MAX_VALUE) {
            throw new ConfigException(path + ": tensor '" + name + "' is " + len + " bytes; a single tensor over 2 GiB is not supported");
        }
        if (len == 0) {
            return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        try {
            MappedByteBuffer mb = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), len);
            return mb.order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new ConfigException(path + ": cannot map tensor '" + name + "' (" + e.getMessage() + ")", e);
        }
    }

    /** A floating-point tensor (F32, F16 or BF16) converted to float32 on the heap. */
    public FloatTensor floatTensor(String name) {
        TensorInfo t = info(name);
        ByteBuffer b = buffer(name);
        int n = Math.toIntExact(t.numel());
        float[] out = new float[n];
        switch (t.dtype()) {
            case F32 -> b.asFloatBuffer().get(out);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloats.halfToFloat(b.getShort(2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloats.bfloat16ToFloat(b.getShort(2 * i));
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getDouble(8 * i);
                }
            }
            default -> throw new ConfigException(path + ": tensor '" + name + "' is " + t.dtype() + ", expected a floating-point dtype (F32, F16, BF16)");
        }
        return new FloatTensor(out, t.intShape());
    }

    /** An integer tensor (I64, I32, I16, I8, U8, BOOL) as longs. */
    public long[] longs(String name) {
        TensorInfo t = info(name);
        ByteBuffer b = buffer(name);
        int n = Math.toIntExact(t.numel());
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (t.dtype()) {
                case I64 -> b.getLong(8 * i);
                case I32 -> b.getInt(4 * i);
                case I16 -> b.getShort(2 * i);
                case I8 -> b.get(i);
                case U8, BOOL -> b.get(i) & 0xff;
                default -> throw new ConfigException(path + ": tensor '" + name + "' is " + t.dtype() + ", expected an integer dtype (I64, I32)");
            };
        }
        return out;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new ConfigException(path + ": close failed", e);
        }
    }
}
