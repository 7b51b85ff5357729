package org.cyclediffusion.core.io;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A protocol-buffers message being written, field by field, in the wire format (varint keys,
 * varints, little-endian fixed32, length-delimited bytes). Field numbers are the caller's (for
 * ONNX, those of {@code onnx/onnx.proto}); no generated code, no protoc. The ONNX backend edits
 * models with it, the ONNX exporter writes them.
 */
public final class ProtobufWriter {
    private static final int VARINT = 0;
    private static final int LEN = 2;
    private static final int FIXED32 = 5;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public ProtobufWriter varint(int field, long value) {
        key(field, VARINT);
        rawVarint(value);
        return this;
    }

    public ProtobufWriter fixed32(int field, float value) {
        key(field, FIXED32);
        int bits = Float.floatToRawIntBits(value);
        for (int i = 0; i < 4; i++) {
            out.write(bits >>> (8 * i));
        }
        return this;
    }

    public ProtobufWriter bytes(int field, byte[] value) {
        key(field, LEN);
        rawVarint(value.length);
        out.writeBytes(value);
        return this;
    }

    public ProtobufWriter string(int field, String value) {
        return bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    public ProtobufWriter message(int field, ProtobufWriter message) {
        return bytes(field, message.toByteArray());
    }

    public int size() {
        return out.size();
    }

    public byte[] toByteArray() {
        return out.toByteArray();
    }

    private void key(int field, int wireType) {
        rawVarint(((long) field << 3) | wireType);
    }

    /** Negative int64 values take ten bytes, as protobuf encodes them (two's complement, no zigzag). */
    private void rawVarint(long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
