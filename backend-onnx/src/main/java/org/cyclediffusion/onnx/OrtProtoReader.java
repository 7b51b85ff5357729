package org.cyclediffusion.onnx;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * A forward-only reader of the protocol-buffers wire format over a buffer (a memory-mapped model
 * file or a slice of it): just enough to walk an ONNX {@code ModelProto} without a generated
 * protobuf class or a copy of the weights on the Java heap.
 */
final class OrtProtoReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LEN = 2;
    static final int FIXED32 = 5;

    private final ByteBuffer buf;
    private int pos;
    private final int limit;
    private int field;
    private int wireType;

    OrtProtoReader(ByteBuffer buf) {
        this.buf = buf;
        this.pos = buf.position();
        this.limit = buf.limit();
    }

    /** Advances to the next field; false at the end of the message. */
    boolean next() {
        if (pos >= limit) {
            return false;
        }
        long key = varint();
        field = (int) (key >>> 3);
        wireType = (int) (key & 7);
        return true;
    }

    /** Whether unread bytes remain (for packed repeated fields, read with {@link #rawVarint()}). */
    boolean hasMore() {
        return pos < limit;
    }

    /** A varint with no field key before it (an element of a packed repeated field). */
    long rawVarint() {
        return varint();
    }

    int field() {
        return field;
    }

    int wireType() {
        return wireType;
    }

    long readVarint() {
        expect(VARINT);
        return varint();
    }

    /** A length-delimited value as a slice sharing the underlying memory. */
    ByteBuffer readBytes() {
        expect(LEN);
        int n = Math.toIntExact(varint());
        if (n < 0 || pos + n > limit) {
            throw new IllegalArgumentException("truncated protobuf: field " + field + " of " + n + " bytes at offset " + pos);
        }
        ByteBuffer slice = buf.duplicate();
        slice.limit(pos + n).position(pos);
        pos += n;
        return slice.slice();
    }

    String readString() {
        ByteBuffer b = readBytes();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    void skip() {
        switch (wireType) {
            case VARINT -> varint();
            case FIXED64 -> pos += 8;
            case LEN -> readBytes();
            case FIXED32 -> pos += 4;
            default -> throw new IllegalArgumentException("unsupported protobuf wire type " + wireType + " (field " + field + ")");
        }
    }

    private void expect(int type) {
        if (wireType != type) {
            throw new IllegalArgumentException("protobuf field " + field + ": wire type " + wireType + ", expected " + type);
        }
    }

    private long varint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= limit) {
                throw new IllegalArgumentException("truncated protobuf varint at offset " + pos);
            }
            byte b = buf.get(pos++);
            result |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return result;
            }
        }
        throw new IllegalArgumentException("malformed protobuf varint at offset " + pos);
    }
}
