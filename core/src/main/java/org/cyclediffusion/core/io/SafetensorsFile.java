package org.cyclediffusion.core.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * A safetensors file (8-byte little-endian header length, JSON header, raw little-endian data),
 * memory-mapped one tensor at a time, so files over 2 GiB (SD's fp32 UNet is 3.4 GB) work as long
 * as no single tensor exceeds 2 GiB; nothing is copied through the Java heap until a caller asks
 * for a {@link FloatTensor} or {@code long[]}.
 *
 * <p>The header is validated completely when the file opens, with the rules of the reference
 * reader ({@code SafeTensors::read_metadata} and {@code Metadata::validate} in
 * {@code huggingface/safetensors}, {@code safetensors/src/tensor.rs}), so we accept exactly the
 * files {@code safetensors.safe_open} accepts:
 * <ul>
 *   <li>the header length is at most 100,000,000 bytes and fits in the file;
 *   <li>the header is UTF-8 JSON, an object; {@code __metadata__}, if present, maps strings to
 *       strings; every other entry is {@code {dtype, shape, data_offsets: [begin, end]}};
 *   <li>{@code shape} times the dtype's size equals {@code end - begin} (no arithmetic overflow);
 *   <li>sorted by offset, the tensors tile the data section exactly: the first begins at 0, each
 *       begins where the previous ended (no gap, no overlap) and the last ends at the end of the
 *       file (no trailing bytes, no truncation).
 * </ul>
 * Each violation fails with a {@link ConfigException} naming the file and the tensor. Unknown keys
 * inside a tensor entry are ignored, as serde does for the reference.
 *
 * <p>Buffers returned by {@link #buffer} stay valid after {@link #close()} (a mapping does not
 * depend on its channel); the OS releases each mapping when its buffer is garbage collected.
 */
public final class SafetensorsFile implements TensorSource {
    /** The reference's {@code MAX_HEADER_SIZE}: a larger header is refused before it is read. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** Strict JSON: a repeated key or anything after the header object is an error, not ignored. */
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final long dataSize;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    /** One tensor's entry in the header; offsets are relative to the start of the data section. */
    public record TensorInfo(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {
        public TensorInfo {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        public long byteSize() {
            return end - begin;
        }

        /** The shape as ints, for a {@link FloatTensor}; every dimension of a real model fits. */
        public int[] intShape() {
            int[] s = new int[shape.length];
            for (int i = 0; i < s.length; i++) {
                if (shape[i] > Integer.MAX_VALUE) {
                    throw new ConfigException("tensor '" + name + "': dimension " + shape[i] + " of shape " + Arrays.toString(shape)
                            + " does not fit in an int");
                }
                s[i] = (int) shape[i];
            }
            return s;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                    && begin == t.begin && end == t.end;
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
        }
    }

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, long dataSize, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.dataSize = dataSize;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates the file; on any failure the channel is closed before the exception leaves. */
    public static SafetensorsFile open(Path path) {
        if (Files.isDirectory(path)) {
            throw new ConfigException(path + ": is a directory, expected a .safetensors file");
        }
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
            Closeables.closeAfter(e, ch);
            if (e instanceof ConfigException ce) {
                throw ce;
            }
            throw new ConfigException(path + ": cannot read safetensors header (" + e + ")", e);
        }
    }

    private static SafetensorsFile parse(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) {
            throw new ConfigException(path + ": file is " + size + " bytes, too short for safetensors (expected at least the 8-byte header length)");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long headerLen = lenBuf.flip().getLong(); // an unsigned u64 in the file
        if (Long.compareUnsigned(headerLen, MAX_HEADER_BYTES) > 0) {
            throw new ConfigException(path + ": header length " + Long.toUnsignedString(headerLen) + " exceeds the safetensors limit of "
                    + MAX_HEADER_BYTES + " bytes (not a safetensors file, or a corrupted one)");
        }
        if (headerLen > size - 8) {
            throw new ConfigException(path + ": header length " + headerLen + " runs past the end of the file (" + size
                    + " bytes; the header needs " + (8 + headerLen) + "): the file is truncated or not safetensors");
        }
        if (headerLen == 0) {
            throw new ConfigException(path + ": header length is 0, expected a JSON object");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        readFully(ch, hb, 8);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(hb.flip())
                    .toString();
        } catch (CharacterCodingException e) {
            throw new ConfigException(path + ": safetensors header is not UTF-8 text (" + e + ")");
        }
        JsonNode header;
        try {
            header = MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            throw new ConfigException(path + ": safetensors header is not valid JSON (" + e.getOriginalMessage() + ")");
        }
        if (header == null || !header.isObject()) {
            throw new ConfigException(path + ": safetensors header must be a JSON object, found "
                    + (header == null || header.isMissingNode() ? "nothing" : header.getNodeType().toString().toLowerCase()));
        }
        long dataStart = 8 + headerLen;
        long dataSize = size - dataStart;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                readMetadata(path, e.getValue(), metadata);
            } else {
                TensorInfo t = readEntry(path + ": tensor '" + e.getKey() + "'", e.getKey(), e.getValue(), dataSize);
                tensors.put(t.name(), t);
            }
        }
        checkLayout(path, tensors.values(), dataSize);
        return new SafetensorsFile(path, ch, dataStart, dataSize, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static void readMetadata(Path path, JsonNode node, Map<String, String> into) {
        if (node.isNull()) {
            return; // serde reads null as no metadata
        }
        if (!node.isObject()) {
            throw new ConfigException(path + ": __metadata__ must be an object of strings, found " + node);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw new ConfigException(path + ": __metadata__ must map strings to strings, found \"" + m.getKey() + "\": " + m.getValue());
            }
            into.put(m.getKey(), m.getValue().textValue());
        }
    }

    private static TensorInfo readEntry(String where, String name, JsonNode v, long dataSize) {
        if (!v.isObject() || !v.has("dtype") || !v.has("shape") || !v.has("data_offsets")) {
            throw new ConfigException(where + ": expected {\"dtype\", \"shape\", \"data_offsets\"}, found " + abbreviate(v));
        }
        JsonNode dt = v.get("dtype");
        if (!dt.isTextual()) {
            throw new ConfigException(where + ": dtype must be a string, found " + dt);
        }
        SafetensorsDType dtype = SafetensorsDType.parse(dt.textValue(), where);
        JsonNode sh = v.get("shape");
        if (!sh.isArray()) {
            throw new ConfigException(where + ": shape must be a list of sizes, found " + abbreviate(sh));
        }
        long[] shape = new long[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(sh.get(i), where, "shape", sh);
            numel = multiply(numel, shape[i], where, sh, dtype);
        }
        long nbytes = multiply(numel, dtype.bytes(), where, sh, dtype);
        JsonNode off = v.get("data_offsets");
        if (!off.isArray() || off.size() != 2) {
            throw new ConfigException(where + ": data_offsets must be a pair [begin, end], found " + abbreviate(off));
        }
        long begin = nonNegativeLong(off.get(0), where, "data_offsets", off);
        long end = nonNegativeLong(off.get(1), where, "data_offsets", off);
        if (end < begin) {
            throw new ConfigException(where + ": data_offsets " + off + " end before they begin");
        }
        if (end > dataSize) {
            throw new ConfigException(where + ": data_offsets " + off + " run past the data section, which has " + dataSize
                    + " bytes: the file is truncated, or the offsets are wrong");
        }
        if (nbytes != end - begin) {
            throw new ConfigException(where + ": shape " + sh + " of " + dtype + " needs " + nbytes + " bytes, data_offsets " + off
                    + " cover " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /**
     * The reference's {@code Metadata::validate}: sorted by offset, the tensors cover the data
     * section exactly once. A gap or trailing bytes could hide a second payload (a "polyglot"
     * file), which is why the reference refuses them too.
     */
    private static void checkLayout(Path path, Iterable<TensorInfo> all, long dataSize) {
        List<TensorInfo> sorted = new ArrayList<>();
        all.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo t : sorted) {
            if (t.begin() < covered) {
                throw new ConfigException(path + ": tensor '" + t.name() + "' [" + t.begin() + ", " + t.end() + ") overlaps tensor '"
                        + previous.name() + "' [" + previous.begin() + ", " + previous.end() + ")");
            }
            if (t.begin() > covered) {
                throw new ConfigException(path + ": tensor '" + t.name() + "' begins at data byte " + t.begin() + " but "
                        + (previous == null ? "no tensor begins at 0" : "the previous tensor '" + previous.name() + "' ends at " + covered)
                        + "; safetensors requires the tensors to cover the data section without gaps");
            }
            covered = t.end();
            previous = t;
        }
        if (covered != dataSize) {
            throw new ConfigException(path + ": " + (dataSize - covered) + " bytes after the end of the last tensor"
                    + (previous == null ? "" : " '" + previous.name() + "'")
                    + "; safetensors requires the tensors to end exactly at the end of the file");
        }
    }

    // Messages are built only on failure: a UNet header has thousands of numbers to check.
    private static long nonNegativeLong(JsonNode n, String where, String field, JsonNode whole) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < 0) {
            throw new ConfigException(where + ": " + field + " " + abbreviate(whole) + " must hold non-negative integers, found " + n);
        }
        return n.longValue();
    }

    private static long multiply(long a, long b, String where, JsonNode shape, SafetensorsDType dtype) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        if (hi != 0 || lo < 0) { // operands are non-negative
            throw new ConfigException(where + ": shape " + abbreviate(shape) + " of " + dtype + " overflows a 64-bit byte count");
        }
        return lo;
    }

    private static String abbreviate(JsonNode n) {
        String s = String.valueOf(n);
        return s.length() <= 200 ? s : s.substring(0, 200) + "…";
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

    @Override
    public Path path() {
        return path;
    }

    /** Every tensor, in the order of the header. */
    @Override
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The {@code __metadata__} entries (e.g. {@code format: pt}); empty when the header has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /**
     * The tensor's raw bytes, memory-mapped (read-only, little-endian, position 0). Each call maps
     * anew; the offset may lie anywhere in the file, the tensor itself must be under 2 GiB.
     */
    @Override
    public ByteBuffer buffer(String name) {
        return buffer(info(name));
    }

    /**
     * The bytes of any entry whose offsets lie in this file's data section, e.g. a slice of a
     * stored tensor that a {@link TensorSource} view exposes under another name and shape.
     */
    public ByteBuffer buffer(TensorInfo t) {
        String name = t.name();
        if (!channel.isOpen()) {
            throw new CycleDiffusionException(path + ": tensor '" + name + "' read after close()");
        }
        long len = t.byteSize();
        if (t.begin() < 0 || len < 0 || t.end() > dataSize) {
            throw new ConfigException(path + ": tensor '" + name + "' [" + t.begin() + ", " + t.end() + ") lies outside the data section of "
                    + dataSize + " bytes");
        }
        if (len > Integer.MAX_VALUE) {
            throw new ConfigException(path + ": tensor '" + name + "' is " + len + " bytes; a single tensor over 2 GiB is not supported");
        }
        if (len == 0) {
            return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), len).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new ConfigException(path + ": cannot map tensor '" + name + "' (" + e + ")", e);
        }
    }

    /**
     * An integer or bool tensor as longs (I64, I32, I16, I8 sign-extended; U32, U16, U8, BOOL
     * zero-extended; U64 as its two's-complement bits).
     */
    public long[] longs(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isInteger()) {
            throw new ConfigException(path + ": tensor '" + name + "' is " + t.dtype() + ", expected an integer dtype (I64, I32, I16, I8, U64, U32, U16, U8, BOOL)");
        }
        shapeForHeap(t);
        ByteBuffer b = buffer(name);
        int n = (int) t.numel();
        long[] out = new long[n];
        switch (t.dtype()) {
            case I64, U64 -> b.asLongBuffer().get(out);
            case I32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(4 * i);
                }
            }
            case U32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(4 * i) & 0xffff_ffffL;
                }
            }
            case I16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getShort(2 * i);
                }
            }
            case U16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getShort(2 * i) & 0xffff;
                }
            }
            case I8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i);
                }
            }
            case U8, BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i) & 0xff;
                }
            }
            default -> throw new AssertionError(t.dtype());
        }
        return out;
    }

    /** Java arrays hold at most 2^31 - 1 elements; say so with the tensor's name instead of failing later. */
    private int[] shapeForHeap(TensorInfo t) {
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw new ConfigException(path + ": tensor '" + t.name() + "' has " + t.numel() + " elements, more than a Java array holds");
        }
        try {
            return t.intShape();
        } catch (ConfigException e) {
            throw new ConfigException(path + ": " + e.getMessage());
        }
    }

    /** Closes the file channel (idempotent). Buffers already returned stay readable. */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new ConfigException(path + ": close failed (" + e + ")", e);
        }
    }
}
