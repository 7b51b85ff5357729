package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tiled and sliced VAE passes ({@link VaeTiling}). Tiling is checked twice: with a per-pixel function,
 * where tiles cannot change the result, it must equal the untiled pass (the tile grid, crops and
 * concatenation are right); with a function whose output depends on the position inside the tile, it
 * must equal a plain-Java transcription of diffusers' {@code tiled_decode} with its in-place
 * {@code blend_v} / {@code blend_h} (the blending is right). Then through {@link TorchVae} on the
 * tiny model: slicing and tiling give the untiled result where they must.
 */
class VaeTilingTest {
    private static TorchContext cpu;

    @BeforeAll
    static void open() {
        cpu = TorchContext.open(Device.CPU, DType.FLOAT32);
    }

    private static FloatTensor random(long seed, int... shape) {
        Random r = new Random(seed);
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return new FloatTensor(v, shape);
    }

    /** Nearest ×2 upsampling then 3x + 1: per pixel, so tiling cannot change it. */
    private static Tensor pointwise(Tensor t) {
        Tensor up = t.repeat_interleave(2, new org.bytedeco.pytorch.LongOptional(2), new org.bytedeco.pytorch.LongOptional())
                .repeat_interleave(2, new org.bytedeco.pytorch.LongOptional(3), new org.bytedeco.pytorch.LongOptional());
        return up.mul(new Scalar(3.0)).add(new Scalar(1.0));
    }

    @Test
    void perPixelFunctionIsUnchangedByTiling() {
        FloatTensor z = random(1, 2, 4, 21, 27); // sides that are not multiples of the tile step
        FloatTensor tiled = cpu.run(() -> TorchContext.download(VaeTiling.tiled(cpu.upload(z), 8, 16, VaeTilingTest::pointwise)));
        FloatTensor whole = cpu.run(() -> TorchContext.download(pointwise(cpu.upload(z))));
        assertArrayEquals(whole.shape(), tiled.shape());
        // a·(1 − w) + a·w is a up to float rounding
        assertTrue(tiled.maxAbsDiff(whole) < 1e-5, "max |Δ| " + tiled.maxAbsDiff(whole));
    }

    /** Nearest ×2 upsampling plus a ramp over the tile's own rows and columns: every tile differs at the seams. */
    private static Tensor positional(Tensor t) {
        FloatTensor host = TorchContext.download(t);
        return cpu.upload(positional(host));
    }

    private static FloatTensor positional(FloatTensor t) {
        int b = t.dim(0);
        int c = t.dim(1);
        int h = t.dim(2);
        int w = t.dim(3);
        float[] out = new float[b * c * 4 * h * w];
        for (int n = 0; n < b * c; n++) {
            for (int y = 0; y < 2 * h; y++) {
                for (int x = 0; x < 2 * w; x++) {
                    out[(n * 2 * h + y) * 2 * w + x] = t.data()[(n * h + y / 2) * w + x / 2] + 0.01f * y - 0.02f * x;
                }
            }
        }
        return new FloatTensor(out, b, c, 2 * h, 2 * w);
    }

    @Test
    void blendingIsDiffusers() {
        FloatTensor z = random(2, 1, 3, 20, 14);
        FloatTensor tiled = cpu.run(() -> TorchContext.download(VaeTiling.tiled(cpu.upload(z), 8, 16, VaeTilingTest::positional)));
        FloatTensor reference = diffusersTiledDecode(z, 8, 16, VaeTilingTest::positional);
        assertArrayEquals(reference.shape(), tiled.shape());
        assertTrue(tiled.maxAbsDiff(reference) < 1e-6, "max |Δ| " + tiled.maxAbsDiff(reference));
        FloatTensor whole = positional(z);
        assertTrue(tiled.maxAbsDiff(whole) > 1e-2, "the test function must make tiles matter");
    }

    /**
     * diffusers v0.23.0 {@code AutoencoderKL.tiled_decode} in plain Java, loop for loop, with
     * {@code blend_v}/{@code blend_h} writing into the tile they blend (so a tile blended with its
     * left neighbour is later the blended upper neighbour of the row below).
     */
    private static FloatTensor diffusersTiledDecode(FloatTensor z, int latentTile, int sampleTile, UnaryOperator<FloatTensor> decoder) {
        int overlapSize = (int) (latentTile * (1 - 0.25));
        int blendExtent = (int) (sampleTile * 0.25);
        int rowLimit = sampleTile - blendExtent;
        List<List<float[][][][]>> rows = new ArrayList<>();
        for (int i = 0; i < z.dim(2); i += overlapSize) {
            List<float[][][][]> row = new ArrayList<>();
            for (int j = 0; j < z.dim(3); j += overlapSize) {
                row.add(toArray(decoder.apply(crop(z, i, j, latentTile, latentTile))));
            }
            rows.add(row);
        }
        List<float[][][][]> resultRows = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            List<float[][][][]> row = rows.get(i);
            List<float[][][][]> resultRow = new ArrayList<>();
            for (int j = 0; j < row.size(); j++) {
                float[][][][] tile = row.get(j);
                if (i > 0) {
                    float[][][][] a = rows.get(i - 1).get(j);
                    int e = Math.min(Math.min(a[0][0].length, tile[0][0].length), blendExtent);
                    for (int y = 0; y < e; y++) {
                        for (int n = 0; n < tile.length; n++) {
                            for (int c = 0; c < tile[0].length; c++) {
                                for (int x = 0; x < tile[0][0][0].length; x++) {
                                    tile[n][c][y][x] = a[n][c][a[0][0].length - e + y][x] * (float) (1 - (double) y / e)
                                            + tile[n][c][y][x] * (float) ((double) y / e);
                                }
                            }
                        }
                    }
                }
                if (j > 0) {
                    float[][][][] a = row.get(j - 1);
                    int e = Math.min(Math.min(a[0][0][0].length, tile[0][0][0].length), blendExtent);
                    for (int x = 0; x < e; x++) {
                        for (int n = 0; n < tile.length; n++) {
                            for (int c = 0; c < tile[0].length; c++) {
                                for (int y = 0; y < tile[0][0].length; y++) {
                                    tile[n][c][y][x] = a[n][c][y][a[0][0][0].length - e + x] * (float) (1 - (double) x / e)
                                            + tile[n][c][y][x] * (float) ((double) x / e);
                                }
                            }
                        }
                    }
                }
                resultRow.add(tile);
            }
            resultRows.add(concat(resultRow, rowLimit));
        }
        // rows of [N, C, h_i, W] stacked along H
        int n = resultRows.get(0).length;
        int c = resultRows.get(0)[0].length;
        int width = resultRows.get(0)[0][0][0].length;
        int height = resultRows.stream().mapToInt(r -> r[0][0].length).sum();
        float[] out = new float[n * c * height * width];
        int y0 = 0;
        for (float[][][][] r : resultRows) {
            for (int b = 0; b < n; b++) {
                for (int ch = 0; ch < c; ch++) {
                    for (int y = 0; y < r[0][0].length; y++) {
                        for (int x = 0; x < width; x++) {
                            out[((b * c + ch) * height + y0 + y) * width + x] = r[b][ch][y][x];
                        }
                    }
                }
            }
            y0 += r[0][0].length;
        }
        return new FloatTensor(out, n, c, height, width);
    }

    /** tile[:, :, :rowLimit, :rowLimit] of each, concatenated along W. */
    private static float[][][][] concat(List<float[][][][]> tiles, int rowLimit) {
        int n = tiles.get(0).length;
        int c = tiles.get(0)[0].length;
        int h = Math.min(rowLimit, tiles.get(0)[0][0].length);
        int w = tiles.stream().mapToInt(t -> Math.min(rowLimit, t[0][0][0].length)).sum();
        float[][][][] out = new float[n][c][h][w];
        int x0 = 0;
        for (float[][][][] t : tiles) {
            int tw = Math.min(rowLimit, t[0][0][0].length);
            for (int b = 0; b < n; b++) {
                for (int ch = 0; ch < c; ch++) {
                    for (int y = 0; y < h; y++) {
                        System.arraycopy(t[b][ch][y], 0, out[b][ch][y], x0, tw);
                    }
                }
            }
            x0 += tw;
        }
        return out;
    }

    private static FloatTensor crop(FloatTensor z, int top, int left, int th, int tw) {
        int n = z.dim(0);
        int c = z.dim(1);
        int h = Math.min(th, z.dim(2) - top);
        int w = Math.min(tw, z.dim(3) - left);
        float[] out = new float[n * c * h * w];
        for (int b = 0; b < n * c; b++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    out[(b * h + y) * w + x] = z.data()[(b * z.dim(2) + top + y) * z.dim(3) + left + x];
                }
            }
        }
        return new FloatTensor(out, n, c, h, w);
    }

    private static float[][][][] toArray(FloatTensor t) {
        float[][][][] a = new float[t.dim(0)][t.dim(1)][t.dim(2)][t.dim(3)];
        int i = 0;
        for (float[][][] b : a) {
            for (float[][] c : b) {
                for (float[] row : c) {
                    for (int x = 0; x < row.length; x++) {
                        row[x] = t.data()[i++];
                    }
                }
            }
        }
        return a;
    }

    @Test
    void tinyVaeSlicesAndTilesThroughTheBackend() {
        try (TorchVae vae = TorchVae.load(ModelFolder.open(Fixtures.model("tiny-sd")), cpu)) {
            // A batch of 3 decoded one image at a time equals each image decoded alone.
            FloatTensor batch = random(3, 3, 4, 8, 8);
            FloatTensor decoded = vae.decode(batch);
            for (int i = 0; i < 3; i++) {
                FloatTensor alone = vae.decode(batch.rows(i, i + 1));
                assertEquals(0f, decoded.rows(i, i + 1).maxAbsDiff(alone), "image " + i);
            }
            // Latents no larger than a tile (sample_size 64 → 8 latents) are not tiled.
            vae.setTiling(true);
            assertEquals(0f, vae.decode(batch).maxAbsDiff(decoded));
            // Larger ones are: 16×16 latents → 128² pixels in 3×3 tiles, finite, close to the untiled decode away from seams.
            FloatTensor big = random(4, 1, 4, 16, 16);
            FloatTensor tiled = vae.decode(big);
            vae.setTiling(false);
            FloatTensor untiled = vae.decode(big);
            assertArrayEquals(untiled.shape(), tiled.shape());
            for (float v : tiled.data()) {
                assertTrue(Float.isFinite(v));
            }
            assertTrue(tiled.maxAbsDiff(untiled) > 0, "tiling ran");
            FloatTensor moments = vae.encode(cpu.run(() -> TorchContext.download(pointwise(cpu.upload(random(5, 1, 3, 64, 64)))))).mean();
            assertArrayEquals(new int[] {1, 4, 16, 16}, moments.shape());
        }
    }
}
