package org.cyclediffusion.core.io;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Writes a {@link FloatTensor} as a NumPy {@code .npy} file, format version 1.0, dtype
 * {@code '<f4'}, C order, byte for byte what {@code numpy.save} (1.24) writes: the header dict
 * with sorted keys, 21 − len(repr(shape[0])) spare spaces for in-place growth, then spaces and a
 * newline so that the data starts on a 64-byte boundary. The file is written atomically.
 */
public final class NpyWriter {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    private static final int ARRAY_ALIGN = 64;
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;

    private NpyWriter() {
    }

    public static void write(Path path, FloatTensor tensor) {
        byte[] header = header(tensor.shape());
        float[] data = tensor.data();
        AtomicFiles.write(path, out -> {
            out.write(header);
            writeLittleEndian(out, data);
        });
    }

    /** The magic, version, header length and padded header dict for a float32 C-order array. */
    public static byte[] header(int[] shape) {
        StringBuilder dict = new StringBuilder("{'descr': '<f4', 'fortran_order': False, 'shape': ");
        dict.append(shapeRepr(shape)).append(", }");
        if (shape.length > 0) {
            dict.append(" ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - Integer.toString(shape[0]).length())));
        }
        byte[] text = dict.toString().getBytes(StandardCharsets.ISO_8859_1);
        int hlen = text.length + 1; // + the final newline
        int padlen = ARRAY_ALIGN - ((MAGIC.length + 2 + hlen) % ARRAY_ALIGN);
        int total = hlen + padlen;
        if (total > 0xFFFF) {
            throw new CycleDiffusionException("npy header of " + total + " bytes does not fit format version 1.0");
        }
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 2 + total).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putShort((short) total).put(text);
        for (int i = 0; i < padlen; i++) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        return b.array();
    }

    /** Python's repr of a tuple of ints: {@code ()}, {@code (5,)}, {@code (1, 3, 64, 64)}. */
    private static String shapeRepr(int[] shape) {
        if (shape.length == 1) {
            return "(" + shape[0] + ",)";
        }
        StringBuilder s = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                s.append(", ");
            }
            s.append(shape[i]);
        }
        return s.append(')').toString();
    }

    private static void writeLittleEndian(OutputStream out, float[] data) throws java.io.IOException {
        ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : data) {
            if (!chunk.hasRemaining()) {
                out.write(chunk.array(), 0, chunk.position());
                chunk.clear();
            }
            chunk.putFloat(v);
        }
        out.write(chunk.array(), 0, chunk.position());
    }
}
