package org.cyclediffusion.core.image;

/**
 * {@code PIL.Image.resize(size, resample)} for 8-bit RGB images, bit for bit as Pillow 9.4.0
 * computes it ({@code src/libImaging/Resample.c}): diffusers resizes inputs with LANCZOS
 * ({@code VaeImageProcessor.resize}) and transformers' {@code CLIPImageProcessor} with BICUBIC, and
 * both feed a network whose outputs we must match.
 *
 * <p>The algorithm, as Pillow has it:
 * <ol>
 *   <li>{@code Image.resize} returns a copy when the size is unchanged.</li>
 *   <li>{@code ImagingResampleInner} computes coefficients for both axes up front, then runs a
 *       horizontal pass (only if the width changes) into an intermediate 8-bit image holding just
 *       the rows the vertical pass reads, then a vertical pass (only if the height changes).</li>
 *   <li>{@code precompute_coeffs}: the filter support is widened by the downscale factor (never
 *       narrowed when upscaling), each output pixel's window is {@code [center ± support]} rounded
 *       and clamped to the image, weights are the filter at {@code (x − center + 0.5) / filterscale},
 *       normalised to sum 1, all in double.</li>
 *   <li>8-bit path: weights become fixed point with {@code PRECISION_BITS = 32 − 8 − 2 = 22}
 *       (rounded half away from zero), pixels accumulate in an {@code int} starting at
 *       {@code 1 << 21} (rounding), and {@code clip8} shifts right by 22 and clamps to 0..255.</li>
 * </ol>
 */
public final class PilResample {
    private static final int PRECISION_BITS = 32 - 8 - 2;

    /** Pillow's resampling filters that the project needs, with their support radius. */
    public enum Filter {
        /** {@code Image.Resampling.BICUBIC}: cubic convolution with a = −0.5, support 2. */
        BICUBIC(2.0) {
            @Override
            double weight(double x) {
                final double a = -0.5;
                if (x < 0.0) {
                    x = -x;
                }
                if (x < 1.0) {
                    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                }
                if (x < 2.0) {
                    return (((x - 5) * x + 8) * x - 4) * a;
                }
                return 0.0;
            }
        },
        /** {@code Image.Resampling.LANCZOS}: sinc windowed by sinc(x/3), support 3. */
        LANCZOS(3.0) {
            @Override
            double weight(double x) {
                if (-3.0 <= x && x < 3.0) {
                    return sinc(x) * sinc(x / 3);
                }
                return 0.0;
            }
        };

        private final double support;

        Filter(double support) {
            this.support = support;
        }

        abstract double weight(double x);

        double support() {
            return support;
        }

        private static double sinc(double x) {
            if (x == 0.0) {
                return 1.0;
            }
            x = x * Math.PI;
            // StrictMath (fdlibm) for results that do not depend on the JVM's intrinsics.
            return StrictMath.sin(x) / x;
        }
    }

    private PilResample() {
    }

    /** The image resized to {@code width × height} as {@code image.resize((width, height), filter)} does in Pillow 9.4. */
    public static RgbImage resize(RgbImage src, int width, int height, Filter filter) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("height and width must be > 0, got " + width + "x" + height
                    + " for resizing a " + src.sizeString() + " image");
        }
        if (filter == null) {
            throw new IllegalArgumentException("resampling filter is null");
        }
        if (width == src.width() && height == src.height()) {
            return src.copy(); // Image.resize: "if self.size == size and box == (0, 0) + self.size: return self.copy()"
        }
        // _resize passes the default box (0, 0, w, h) as C floats.
        boolean needHorizontal = width != src.width();
        boolean needVertical = height != src.height();
        Coefficients horiz = Coefficients.compute(src.width(), 0f, src.width(), width, filter);
        Coefficients vert = Coefficients.compute(src.height(), 0f, src.height(), height, filter);

        byte[] pixels = src.rgb();
        int inWidth = src.width();
        int inHeight = src.height();
        if (needHorizontal) {
            // Only the rows the vertical pass reads are resampled; the vertical bounds are shifted to match.
            int yFirst = vert.bounds[0];
            int yLast = vert.bounds[height * 2 - 2] + vert.bounds[height * 2 - 1];
            for (int i = 0; i < height; i++) {
                vert.bounds[i * 2] -= yFirst;
            }
            pixels = horizontal(pixels, inWidth, yFirst, yLast - yFirst, width, horiz);
            inWidth = width;
            inHeight = yLast - yFirst;
        }
        if (needVertical) {
            pixels = vertical(pixels, inWidth, height, vert);
            inHeight = height;
        }
        return new RgbImage(inWidth, inHeight, pixels);
    }

    /** ImagingResampleHorizontal_8bpc, three bands. */
    private static byte[] horizontal(byte[] in, int inWidth, int rowOffset, int rows, int outWidth, Coefficients c) {
        int[] k = c.fixedPoint();
        byte[] out = new byte[outWidth * rows * 3];
        for (int yy = 0; yy < rows; yy++) {
            int rowBase = (yy + rowOffset) * inWidth * 3;
            for (int xx = 0; xx < outWidth; xx++) {
                int xmin = c.bounds[xx * 2];
                int xmax = c.bounds[xx * 2 + 1];
                int kBase = xx * c.ksize;
                int ss0 = 1 << (PRECISION_BITS - 1);
                int ss1 = ss0;
                int ss2 = ss0;
                for (int x = 0; x < xmax; x++) {
                    int p = rowBase + (x + xmin) * 3;
                    int w = k[kBase + x];
                    ss0 += (in[p] & 0xFF) * w;
                    ss1 += (in[p + 1] & 0xFF) * w;
                    ss2 += (in[p + 2] & 0xFF) * w;
                }
                int o = (yy * outWidth + xx) * 3;
                out[o] = clip8(ss0);
                out[o + 1] = clip8(ss1);
                out[o + 2] = clip8(ss2);
            }
        }
        return out;
    }

    /** ImagingResampleVertical_8bpc, three bands. */
    private static byte[] vertical(byte[] in, int width, int outHeight, Coefficients c) {
        int[] k = c.fixedPoint();
        byte[] out = new byte[width * outHeight * 3];
        for (int yy = 0; yy < outHeight; yy++) {
            int ymin = c.bounds[yy * 2];
            int ymax = c.bounds[yy * 2 + 1];
            int kBase = yy * c.ksize;
            for (int xx = 0; xx < width; xx++) {
                int ss0 = 1 << (PRECISION_BITS - 1);
                int ss1 = ss0;
                int ss2 = ss0;
                for (int y = 0; y < ymax; y++) {
                    int p = ((y + ymin) * width + xx) * 3;
                    int w = k[kBase + y];
                    ss0 += (in[p] & 0xFF) * w;
                    ss1 += (in[p + 1] & 0xFF) * w;
                    ss2 += (in[p + 2] & 0xFF) * w;
                }
                int o = (yy * width + xx) * 3;
                out[o] = clip8(ss0);
                out[o + 1] = clip8(ss1);
                out[o + 2] = clip8(ss2);
            }
        }
        return out;
    }

    /** Pillow's {@code clip8}: a lookup of {@code in >> 22} that is 0 below 0 and 255 above 255. */
    private static byte clip8(int in) {
        int v = in >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }

    /** The output of {@code precompute_coeffs}: per output pixel, a window start, a length and ksize weights. */
    private static final class Coefficients {
        final int ksize;
        final int[] bounds;
        final double[] kk;

        private Coefficients(int ksize, int[] bounds, double[] kk) {
            this.ksize = ksize;
            this.bounds = bounds;
            this.kk = kk;
        }

        static Coefficients compute(int inSize, float in0, float in1, int outSize, Filter filter) {
            // (double)(in1 - in0) / outSize: the difference is taken in float, as in C.
            double scale = (double) (in1 - in0) / outSize;
            double filterscale = Math.max(scale, 1.0);
            double support = filter.support() * filterscale;
            int ksize = (int) Math.ceil(support) * 2 + 1;
            double[] kk = new double[Math.multiplyExact(outSize, ksize)];
            int[] bounds = new int[outSize * 2];
            for (int xx = 0; xx < outSize; xx++) {
                double center = in0 + (xx + 0.5) * scale;
                double ww = 0.0;
                double ss = 1.0 / filterscale;
                int xmin = (int) (center - support + 0.5); // C truncation toward zero, then clamped
                if (xmin < 0) {
                    xmin = 0;
                }
                int xmax = (int) (center + support + 0.5);
                if (xmax > inSize) {
                    xmax = inSize;
                }
                xmax -= xmin;
                int base = xx * ksize;
                for (int x = 0; x < xmax; x++) {
                    double w = filter.weight((x + xmin - center + 0.5) * ss);
                    kk[base + x] = w;
                    ww += w;
                }
                for (int x = 0; x < xmax; x++) {
                    if (ww != 0.0) {
                        kk[base + x] /= ww;
                    }
                }
                bounds[xx * 2] = xmin;
                bounds[xx * 2 + 1] = xmax;
            }
            return new Coefficients(ksize, bounds, kk);
        }

        /** normalize_coeffs_8bpc: round half away from zero to 22 fractional bits. */
        int[] fixedPoint() {
            int[] k = new int[kk.length];
            for (int i = 0; i < kk.length; i++) {
                double v = kk[i];
                k[i] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            return k;
        }
    }
}
