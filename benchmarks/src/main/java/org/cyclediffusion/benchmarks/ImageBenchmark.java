package org.cyclediffusion.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.image.VaeImageProcessor;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;

/**
 * Image ↔ tensor at SD 1.5's full sizes (the images whose latents are 32×32 and 64×64): the
 * pipeline's {@link VaeImageProcessor#preprocess} (8-bit RGB → [B, 3, H, W] in [-1, 1], no resize:
 * the sizes are multiples of 8), its post-processing back to 8-bit images, and the PNG files
 * around them ({@link ImageFiles}). {@link #baselineCopy} clones a float array of the pixel
 * tensor's size.
 */
public class ImageBenchmark extends LatentShapes {
    private final VaeImageProcessor processor = new VaeImageProcessor(Sd15.VAE_SCALE_FACTOR);
    private List<RgbImage> images;
    private FloatTensor pixels;
    private FloatTensor decoded;
    private byte[] png;

    @Setup
    public void setUp() {
        int side = size * Sd15.VAE_SCALE_FACTOR;
        // A smooth picture with some noise, so that PNG's filters and deflate see image-like data.
        FloatTensor noise = Sd15.randn(1, batch, side, side, 3);
        images = new ArrayList<>();
        // sin(x·0.03 + c)·cos(y·0.02 + b) from per-column and per-row tables: the smoke test sets this up 20 times.
        double[][] columns = new double[3][side];
        double[][] rows = new double[batch][side];
        for (int k = 0; k < side; k++) {
            for (int c = 0; c < 3; c++) {
                columns[c][k] = Math.sin(k * 0.03 + c);
            }
            for (int b = 0; b < batch; b++) {
                rows[b][k] = Math.cos(k * 0.02 + b);
            }
        }
        for (int b = 0; b < batch; b++) {
            byte[] rgb = new byte[side * side * 3];
            for (int y = 0; y < side; y++) {
                for (int x = 0; x < side; x++) {
                    for (int c = 0; c < 3; c++) {
                        int i = (y * side + x) * 3 + c;
                        double v = 128 + 90 * columns[c][x] * rows[b][y] + 8 * noise.data()[b * rgb.length + i];
                        rgb[i] = (byte) Math.max(0, Math.min(255, (int) Math.round(v)));
                    }
                }
            }
            images.add(new RgbImage(side, side, rgb));
        }
        pixels = processor.preprocess(images);
        // A VAE's output strays a little outside [-1, 1]; post-processing clamps it.
        decoded = pixels.copy();
        float[] d = decoded.data();
        for (int i = 0; i < d.length; i++) {
            d[i] = d[i] * 1.05f;
        }
        png = ImageFiles.pngBytes(images.get(0), Map.of());
    }

    @Benchmark
    public float[] baselineCopy() {
        return pixels.data().clone();
    }

    /** 8-bit images → VAE input pixels. */
    @Benchmark
    public FloatTensor preprocess() {
        return processor.preprocess(images);
    }

    /** VAE output → 8-bit images (denormalise, NCHW → NHWC, round). */
    @Benchmark
    public List<RgbImage> postprocess() {
        return processor.toRgbImages(processor.postprocessNp(decoded));
    }

    /** One PNG file's bytes → image (the input of an edit). */
    @Benchmark
    public RgbImage readPng() {
        return ImageFiles.read(png, "benchmark.png", Long.MAX_VALUE);
    }

    /** One image → PNG bytes (an edit's output file, without the disk). */
    @Benchmark
    public byte[] writePng() {
        return ImageFiles.pngBytes(images.get(0), Map.of());
    }
}
