package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.cat;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.cyclediffusion.libtorch.layers.Scopes;

/**
 * How {@link AutoencoderKL} is run over a batch, as diffusers v0.23.0's {@code AutoencoderKL} does
 * with {@code use_slicing} (one image at a time) and {@code use_tiling} (tiles of
 * {@code sample_size} pixels, {@code sample_size / 8} latents, overlapping by a quarter, each
 * blended linearly into its upper and left neighbour, see {@link #blendV} / {@link #blendH}). Each
 * image and each tile runs in its own {@link PointerScope}, so the activations of one are freed
 * before the next starts: peak memory is that of one image (one tile), not of the batch.
 */
final class VaeTiling {
    /** diffusers' {@code tile_overlap_factor}. */
    static final double OVERLAP = 0.25;

    private final int tileSampleMinSize;
    private final int tileLatentMinSize;

    VaeTiling(AutoencoderKLConfig config) {
        this.tileSampleMinSize = config.sampleSize();
        this.tileLatentMinSize = config.sampleSize() / config.scaleFactor();
    }

    /** {@code encode}: tiled when enabled and the image exceeds a tile, else image by image. */
    Tensor encodeMoments(AutoencoderKL vae, Tensor x, boolean tiling) {
        if (tiling && (x.size(3) > tileSampleMinSize || x.size(2) > tileSampleMinSize)) {
            return tiled(x, tileSampleMinSize, tileLatentMinSize, vae::encodeMoments);
        }
        return sliced(x, vae::encodeMoments);
    }

    /** {@code decode}: image by image, each tiled when enabled and it exceeds a tile. */
    Tensor decode(AutoencoderKL vae, Tensor z, boolean tiling) {
        return sliced(z, one -> tiling && (one.size(3) > tileLatentMinSize || one.size(2) > tileLatentMinSize)
                ? tiled(one, tileLatentMinSize, tileSampleMinSize, vae::decode)
                : vae.decode(one));
    }

    private static Tensor sliced(Tensor x, UnaryOperator<Tensor> f) {
        long batch = x.size(0);
        if (batch == 1) {
            return Scopes.inChildScope(() -> f.apply(x));
        }
        TensorVector parts = new TensorVector();
        for (long i = 0; i < batch; i++) {
            long row = i;
            parts.push_back(Scopes.inChildScope(() -> f.apply(x.narrow(0, row, 1))));
        }
        return cat(parts, 0);
    }

    /**
     * diffusers' {@code tiled_encode} / {@code tiled_decode}: tiles of {@code inTile} start every
     * {@code int(inTile·(1 − overlap))}; each output tile (of {@code outTile}) is blended in place
     * with the tile above and the tile to its left — already blended themselves, as diffusers'
     * in-place updates make them — over {@code int(outTile·overlap)} rows and columns, then cropped
     * to {@code outTile − blend} and concatenated.
     */
    static Tensor tiled(Tensor x, int inTile, int outTile, UnaryOperator<Tensor> f) {
        int overlapSize = (int) (inTile * (1 - OVERLAP));
        int blendExtent = (int) (outTile * OVERLAP);
        int rowLimit = outTile - blendExtent;
        long height = x.size(2);
        long width = x.size(3);
        List<List<Tensor>> rows = new ArrayList<>();
        for (long i = 0; i < height; i += overlapSize) {
            List<Tensor> row = new ArrayList<>();
            for (long j = 0; j < width; j += overlapSize) {
                long top = i;
                long left = j;
                row.add(Scopes.inChildScope(() -> {
                    Tensor tile = x.narrow(2, top, Math.min(inTile, height - top)).narrow(3, left, Math.min(inTile, width - left));
                    return f.apply(tile.contiguous());
                }));
            }
            rows.add(row);
        }
        TensorVector resultRows = new TensorVector();
        for (int i = 0; i < rows.size(); i++) {
            List<Tensor> row = rows.get(i);
            TensorVector resultRow = new TensorVector();
            for (int j = 0; j < row.size(); j++) {
                Tensor tile = row.get(j);
                if (i > 0) {
                    blendV(rows.get(i - 1).get(j), tile, blendExtent);
                }
                if (j > 0) {
                    blendH(row.get(j - 1), tile, blendExtent);
                }
                resultRow.push_back(tile.narrow(2, 0, Math.min(rowLimit, tile.size(2))).narrow(3, 0, Math.min(rowLimit, tile.size(3))));
            }
            resultRows.push_back(cat(resultRow, 3));
        }
        return cat(resultRows, 2);
    }

    /** diffusers' {@code blend_v}: b[:, :, y] = a[:, :, −e + y]·(1 − y/e) + b[:, :, y]·(y/e) for y &lt; e, in place. */
    static void blendV(Tensor a, Tensor b, int extent) {
        blend(a, b, extent, 2);
    }

    /** diffusers' {@code blend_h}: the same over columns. */
    static void blendH(Tensor a, Tensor b, int extent) {
        blend(a, b, extent, 3);
    }

    private static void blend(Tensor a, Tensor b, int extent, int dim) {
        long e = Math.min(Math.min(a.size(dim), b.size(dim)), extent);
        try (PointerScope scope = new PointerScope()) {
            for (long y = 0; y < e; y++) {
                // Python evaluates (1 - y / e) and (y / e) in double; torch multiplies a float tensor by them in float.
                Tensor fromA = a.select(dim, a.size(dim) - e + y).mul(new Scalar(1 - (double) y / e));
                Tensor fromB = b.select(dim, y).mul(new Scalar((double) y / e));
                b.select(dim, y).copy_(fromA.add(fromB));
            }
        }
    }
}
