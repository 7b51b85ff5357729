package org.cyclediffusion.onnx;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Writes protocol-buffers fields: enough to build the small messages we append to an ONNX model. */
final class OrtProtoWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    OrtProtoWriter varint(int field, long value) {
        key(field, OrtProtoReader.VARINT);
        rawVarint(value);
        return this;
    }

    OrtProtoWriter bytes(int field, byte[] value) {
        key(field, OrtProtoReader.LEN);
        rawVarint(value.length);
        out.writeBytes(value);
        return this;
    }

    OrtProtoWriter string(int field, String value) {
        return bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    OrtProtoWriter message(int field, OrtProtoWriter message) {
        return bytes(field, message.toByteArray());
    }

    byte[] toByteArray() {
        return out.toByteArray();
    }

    private void key(int field, int wireType) {
        rawVarint(((long) field << 3) | wireType);
    }

    private void rawVarint(long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
