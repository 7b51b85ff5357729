package org.cyclediffusion.core.image;

import java.util.Arrays;

/**
 * An 8-bit RGB image: {@code rgb} holds {@code width × height} pixels row by row, three bytes
 * (R, G, B) per pixel, exactly the memory layout of a PIL {@code "RGB"} image as
 * {@code np.asarray(image)} shows it ({@code [H, W, 3]} uint8).
 *
 * <p>The array is not copied: an {@code RgbImage} owns the array it is given, and callers must
 * not change it afterwards. Equality compares the pixels.
 */
public record RgbImage(int width, int height, byte[] rgb) {

    public RgbImage {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        if (rgb == null) {
            throw new IllegalArgumentException("pixel array is null");
        }
        if ((long) width * height * 3 != rgb.length) {
            throw new IllegalArgumentException("a " + width + "x" + height + " RGB image needs "
                    + (long) width * height * 3 + " bytes, got " + rgb.length);
        }
    }

    /** A black image. */
    public static RgbImage black(int width, int height) {
        return new RgbImage(width, height, new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)]);
    }

    /** Channel {@code c} (0 = R, 1 = G, 2 = B) of pixel (x, y) as 0..255. */
    public int get(int x, int y, int c) {
        if (x < 0 || x >= width || y < 0 || y >= height || c < 0 || c > 2) {
            throw new IndexOutOfBoundsException("(" + x + ", " + y + ", " + c + ") outside " + width + "x" + height + "x3");
        }
        return rgb[(y * width + x) * 3 + c] & 0xFF;
    }

    /** Pixel (x, y) packed as {@code 0xRRGGBB}. */
    public int rgbAt(int x, int y) {
        int i = (y * width + x) * 3;
        return (rgb[i] & 0xFF) << 16 | (rgb[i + 1] & 0xFF) << 8 | rgb[i + 2] & 0xFF;
    }

    public RgbImage copy() {
        return new RgbImage(width, height, rgb.clone());
    }

    /** "WxH", the way sizes appear in error messages. */
    public String sizeString() {
        return width + "x" + height;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RgbImage other && width == other.width && height == other.height
                && Arrays.equals(rgb, other.rgb);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * width + height) + Arrays.hashCode(rgb);
    }

    @Override
    public String toString() {
        return "RgbImage[" + sizeString() + "]";
    }
}
