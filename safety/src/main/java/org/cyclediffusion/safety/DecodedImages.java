package org.cyclediffusion.safety;

import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The two views of the decoded VAE output {@code [B, 3, H, W]} (about [-1, 1]) that the checker
 * is given in diffusers v0.23.0.
 */
final class DecodedImages {
    private DecodedImages() {
    }

    /**
     * What {@code run_safety_checker} hands the feature extractor:
     * {@code VaeImageProcessor.postprocess(image, output_type="pil")}, i.e. torch
     * {@code (x / 2 + 0.5).clamp(0, 1)} in float32, then numpy {@code (x * 255).round().astype("uint8")}
     * (float32 multiply, round half to even). A NaN becomes 0, as the float-to-uint8 cast does on x86.
     */
    static List<RgbImage> toPil(FloatTensor decoded) {
        int[] s = requireNchw(decoded);
        int b = s[0];
        int h = s[2];
        int w = s[3];
        int hw = h * w;
        float[] d = decoded.data();
        List<RgbImage> out = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            byte[] rgb = new byte[3 * hw];
            int base = i * 3 * hw;
            for (int c = 0; c < 3; c++) {
                for (int p = 0; p < hw; p++) {
                    float v = denormalize(d[base + c * hw + p]);
                    rgb[p * 3 + c] = (byte) (int) Math.rint(v * 255f);
                }
            }
            out.add(new RgbImage(w, h, rgb));
        }
        return out;
    }

    /**
     * Image {@code i} as the ONNX checker's {@code images} input {@code [1, H, W, 3]}: diffusers'
     * ONNX pipeline passes {@code np.clip(image / 2 + 0.5, 0, 1)} transposed to NHWC.
     */
    static FloatTensor toUnitNhwc(FloatTensor decoded, int i) {
        int[] s = requireNchw(decoded);
        int h = s[2];
        int w = s[3];
        int hw = h * w;
        float[] d = decoded.data();
        float[] out = new float[3 * hw];
        int base = i * 3 * hw;
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < hw; p++) {
                out[p * 3 + c] = denormalize(d[base + c * hw + p]);
            }
        }
        return new FloatTensor(out, 1, h, w, 3);
    }

    /** {@code (x / 2 + 0.5).clamp(0, 1)} in float32; NaN stays NaN, as torch's clamp keeps it. */
    private static float denormalize(float x) {
        float v = x / 2f + 0.5f;
        return v < 0f ? 0f : v > 1f ? 1f : v;
    }

    private static int[] requireNchw(FloatTensor decoded) {
        int[] s = decoded.shape();
        if (s.length != 4 || s[1] != 3 || s[0] < 1) {
            throw new IllegalArgumentException("decoded images must be [B, 3, H, W], found " + decoded);
        }
        return s;
    }
}
