package org.cyclediffusion.core.image;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * diffusers v0.23.0 {@code VaeImageProcessor} with its default configuration ({@code do_resize},
 * {@code resample="lanczos"}, {@code do_normalize}; no binarize, no RGB/gray conversion), for PIL
 * RGB inputs: the conversions between 8-bit images and the VAE's [-1, 1] pixel tensors.
 */
public final class VaeImageProcessor {
    /**
     * {@code 2.0 * (v / 255.0) - 1.0} in float32 (numpy divides a float32 array by 255.0 in float32)
     * for each byte value v: a look-up per channel instead of a float division.
     */
    private static final float[] NORMALISED = new float[256];

    static {
        for (int v = 0; v < 256; v++) {
            float x = v / 255.0f;
            NORMALISED[v] = 2.0f * x - 1.0f;
        }
    }

    private final int vaeScaleFactor;

    /** {@code vaeScaleFactor} = 2^(len(vae.config.block_out_channels) − 1): 8 for Stable Diffusion. */
    public VaeImageProcessor(int vaeScaleFactor) {
        if (vaeScaleFactor < 1) {
            throw new IllegalArgumentException("vae scale factor must be positive, got " + vaeScaleFactor);
        }
        this.vaeScaleFactor = vaeScaleFactor;
    }

    public int vaeScaleFactor() {
        return vaeScaleFactor;
    }

    /**
     * {@code preprocess(images)} → {@code [B, 3, H, W]} float32 in [-1, 1].
     *
     * <p>As diffusers v0.23.0 does it for a list of PIL images: {@code get_default_height_width}
     * takes the FIRST image's size, floored to multiples of the scale factor
     * ({@code x - x % vae_scale_factor}), and every image is {@code resize}d to that size with
     * LANCZOS ({@code Image.resize} is a plain copy when the size already matches). Images of other
     * sizes in the same batch are therefore resampled to the first one's size, as in diffusers.
     * Then {@code np.array(image).astype(np.float32) / 255.0} and {@code 2.0 * x - 1.0}, each step
     * rounded to float32.
     *
     * @throws InvalidInputException when the list is empty or the first image is smaller than
     *     the scale factor in either dimension (diffusers fails in PIL with "height and width must be > 0")
     */
    public FloatTensor preprocess(List<RgbImage> images) {
        if (images == null || images.isEmpty()) {
            throw new InvalidInputException("no input image: preprocess needs at least one image");
        }
        RgbImage first = images.get(0);
        int width = first.width() - first.width() % vaeScaleFactor;
        int height = first.height() - first.height() % vaeScaleFactor;
        if (width == 0 || height == 0) {
            throw new InvalidInputException("input image of " + first.sizeString() + " is too small: width and height"
                    + " are floored to multiples of the VAE scale factor " + vaeScaleFactor + ", which gives "
                    + width + "x" + height + "; use an image of at least " + vaeScaleFactor + "x" + vaeScaleFactor);
        }
        int plane = width * height;
        float[] out = new float[images.size() * 3 * plane];
        for (int b = 0; b < images.size(); b++) {
            RgbImage image = images.get(b);
            if (image == null) {
                throw new InvalidInputException("input image " + b + " is null");
            }
            RgbImage sized = image.width() == width && image.height() == height
                    ? image
                    : PilResample.resize(image, width, height, PilResample.Filter.LANCZOS);
            byte[] px = sized.rgb();
            int base = b * 3 * plane;
            for (int i = 0; i < plane; i++) {
                for (int c = 0; c < 3; c++) {
                    out[base + c * plane + i] = NORMALISED[px[i * 3 + c] & 0xFF];
                }
            }
        }
        return new FloatTensor(out, images.size(), 3, height, width);
    }

    /** {@code postprocess(decoded, output_type="np")} with every image denormalised. */
    public FloatTensor postprocessNp(FloatTensor decoded) {
        boolean[] all = new boolean[decoded.rank() > 0 ? decoded.dim(0) : 0];
        Arrays.fill(all, true);
        return postprocessNp(decoded, all);
    }

    /**
     * {@code postprocess(decoded, output_type="np", do_denormalize)}: {@code [B, 3, H, W]} →
     * {@code [B, H, W, 3]}. Image i is denormalised, {@code (x / 2 + 0.5).clamp(0, 1)} in float32,
     * only where {@code doDenormalize[i]}; the pipeline passes {@code not has_nsfw} so a flagged
     * image (already zeros) stays 0.0, i.e. black.
     */
    public FloatTensor postprocessNp(FloatTensor decoded, boolean[] doDenormalize) {
        int[] s = decoded.shape();
        if (s.length != 4 || s[1] != 3) {
            throw new InvalidInputException("postprocess expects decoded images [B, 3, H, W], got " + Arrays.toString(s));
        }
        int batch = s[0];
        int h = s[2];
        int w = s[3];
        if (doDenormalize == null || doDenormalize.length != batch) {
            throw new InvalidInputException("postprocess: do_denormalize has "
                    + (doDenormalize == null ? "no" : String.valueOf(doDenormalize.length)) + " entries for a batch of " + batch);
        }
        float[] in = decoded.data();
        float[] out = new float[in.length];
        int plane = h * w;
        for (int b = 0; b < batch; b++) {
            int base = b * 3 * plane;
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < plane; i++) {
                    float x = in[base + c * plane + i];
                    if (doDenormalize[b]) {
                        x = clamp01(x / 2 + 0.5f);
                    }
                    out[base + i * 3 + c] = x;
                }
            }
        }
        return new FloatTensor(out, batch, h, w, 3);
    }

    /**
     * {@code numpy_to_pil}: {@code [B, H, W, 3]} in [0, 1] → images, each value
     * {@code (x * 255).round().astype("uint8")}: a float32 product rounded half to even.
     * Values outside 0..255 after rounding (possible only for images that were not denormalised)
     * are clamped, and NaN becomes 0, where numpy's cast is undefined.
     */
    public List<RgbImage> toRgbImages(FloatTensor np) {
        int[] s = np.shape();
        if (s.length != 4 || s[3] != 3) {
            throw new InvalidInputException("toRgbImages expects images [B, H, W, 3], got " + Arrays.toString(s));
        }
        int batch = s[0];
        int h = s[1];
        int w = s[2];
        float[] in = np.data();
        int n = h * w * 3;
        List<RgbImage> images = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            byte[] rgb = new byte[n];
            for (int i = 0; i < n; i++) {
                rgb[i] = toUint8(in[b * n + i]);
            }
            images.add(new RgbImage(w, h, rgb));
        }
        return images;
    }

    /** {@code postprocess(decoded, output_type="pil", do_denormalize)}. */
    public List<RgbImage> postprocessPil(FloatTensor decoded, boolean[] doDenormalize) {
        return toRgbImages(postprocessNp(decoded, doDenormalize));
    }

    static byte toUint8(float x) {
        float scaled = x * 255; // float32 * int in numpy stays float32
        double r = Math.rint(scaled); // numpy round: half to even
        if (!(r > 0)) {
            return 0; // also NaN
        }
        return (byte) (r >= 255 ? 255 : (int) r);
    }

    private static float clamp01(float x) {
        // torch.clamp keeps NaN; Math.max/min do too.
        return Math.min(Math.max(x, 0f), 1f);
    }
}
