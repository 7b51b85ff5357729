package org.cyclediffusion.core.image;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.DeflaterOutputStream;

/**
 * A minimal PNG encoder for tests: any colour type and bit depth, an optional PLTE (possibly
 * shorter than the indices used) and tRNS, so that every conversion Pillow performs on open can
 * be exercised with exactly known samples. Scanlines are stored unfiltered.
 */
final class PngBytes {
    static final int GRAY = 0;
    static final int RGB = 2;
    static final int PALETTE = 3;
    static final int GRAY_ALPHA = 4;
    static final int RGBA = 6;

    private PngBytes() {
    }

    /** samples: width·height·channels values, row-major, each < 2^bitDepth. */
    static byte[] encode(int width, int height, int bitDepth, int colorType, int[] samples, int[] palette, byte[] trns) {
        int channels = switch (colorType) {
            case GRAY, PALETTE -> 1;
            case GRAY_ALPHA -> 2;
            case RGB -> 3;
            case RGBA -> 4;
            default -> throw new IllegalArgumentException("colour type " + colorType);
        };
        if (samples.length != width * height * channels) {
            throw new IllegalArgumentException("need " + width * height * channels + " samples");
        }
        try {
            ByteArrayOutputStream png = new ByteArrayOutputStream();
            png.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
            ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(ihdr);
            d.writeInt(width);
            d.writeInt(height);
            d.writeByte(bitDepth);
            d.writeByte(colorType);
            d.writeByte(0);
            d.writeByte(0);
            d.writeByte(0);
            chunk(png, "IHDR", ihdr.toByteArray());
            if (palette != null) {
                byte[] plte = new byte[palette.length * 3];
                for (int i = 0; i < palette.length; i++) {
                    plte[i * 3] = (byte) (palette[i] >> 16);
                    plte[i * 3 + 1] = (byte) (palette[i] >> 8);
                    plte[i * 3 + 2] = (byte) palette[i];
                }
                chunk(png, "PLTE", plte);
            }
            if (trns != null) {
                chunk(png, "tRNS", trns);
            }
            ByteArrayOutputStream raw = new ByteArrayOutputStream();
            int perRow = width * channels;
            for (int y = 0; y < height; y++) {
                raw.write(0); // filter type None
                if (bitDepth == 16) {
                    for (int i = 0; i < perRow; i++) {
                        int v = samples[y * perRow + i];
                        raw.write(v >> 8);
                        raw.write(v & 0xFF);
                    }
                } else if (bitDepth == 8) {
                    for (int i = 0; i < perRow; i++) {
                        raw.write(samples[y * perRow + i]);
                    }
                } else {
                    int acc = 0;
                    int bits = 0;
                    for (int i = 0; i < perRow; i++) {
                        acc = acc << bitDepth | samples[y * perRow + i];
                        bits += bitDepth;
                        if (bits == 8) {
                            raw.write(acc);
                            acc = 0;
                            bits = 0;
                        }
                    }
                    if (bits > 0) {
                        raw.write(acc << (8 - bits));
                    }
                }
            }
            ByteArrayOutputStream z = new ByteArrayOutputStream();
            try (DeflaterOutputStream dz = new DeflaterOutputStream(z)) {
                dz.write(raw.toByteArray());
            }
            chunk(png, "IDAT", z.toByteArray());
            chunk(png, "IEND", new byte[0]);
            return png.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void chunk(ByteArrayOutputStream png, String type, byte[] data) throws IOException {
        DataOutputStream d = new DataOutputStream(png);
        d.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        d.write(t);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        d.writeInt((int) crc.getValue());
    }
}
