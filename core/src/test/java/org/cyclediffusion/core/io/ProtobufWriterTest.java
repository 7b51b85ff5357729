package org.cyclediffusion.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** Wire-format bytes checked against the protobuf encoding rules (developers.google.com/protocol-buffers/docs/encoding). */
class ProtobufWriterTest {
    @Test
    void varintsUseSevenBitGroupsLeastSignificantFirst() {
        // field 1, varint 150: key 0x08, then 0x96 0x01 (the documentation's example)
        assertArrayEquals(bytes(0x08, 0x96, 0x01), new ProtobufWriter().varint(1, 150).toByteArray());
    }

    @Test
    void negativeInt64TakesTenBytes() {
        // ONNX writes axis = -1 this way (int64, two's complement, no zigzag)
        assertArrayEquals(bytes(0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
                new ProtobufWriter().varint(3, -1).toByteArray());
    }

    @Test
    void fixed32IsLittleEndianIeeeBits() {
        // field 2, wire type 5: key 0x15; 1.0f = 0x3f800000
        assertArrayEquals(bytes(0x15, 0x00, 0x00, 0x80, 0x3f), new ProtobufWriter().fixed32(2, 1f).toByteArray());
    }

    @Test
    void stringsAndMessagesAreLengthDelimited() {
        ProtobufWriter inner = new ProtobufWriter().string(1, "ab");
        // field 7, wire type 2: key 0x3a, length 4, then the inner message 0x0a 0x02 'a' 'b'
        assertArrayEquals(bytes(0x3a, 0x04, 0x0a, 0x02, 'a', 'b'), new ProtobufWriter().message(7, inner).toByteArray());
    }

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }
}
