package org.cyclediffusion.safety;

import java.util.List;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.image.VaeImageProcessor;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The two views of the decoded VAE output {@code [B, 3, H, W]} (about [-1, 1]) that the checker
 * is given in diffusers v0.23.0.
 */
final class DecodedImages {
    /** Post-processing does not depend on the VAE's scale factor. */
    private static final VaeImageProcessor POSTPROCESS = new VaeImageProcessor(8);

    private DecodedImages() {
    }

    /**
     * What {@code run_safety_checker} hands the feature extractor:
     * {@code VaeImageProcessor.postprocess(image, output_type="pil")}, i.e. torch
     * {@code (x / 2 + 0.5).clamp(0, 1)} in float32, then numpy {@code (x * 255).round().astype("uint8")}
     * (float32 multiply, round half to even). A NaN becomes 0, as the float-to-uint8 cast does on x86.
     */
    static List<RgbImage> toPil(FloatTensor decoded) {
        requireNchw(decoded);
        return POSTPROCESS.toRgbImages(POSTPROCESS.postprocessNp(decoded));
    }

    /**
     * Image {@code i} as the ONNX checker's {@code images} input {@code [1, H, W, 3]}: diffusers'
     * ONNX pipeline passes {@code np.clip(image / 2 + 0.5, 0, 1)} transposed to NHWC.
     */
    static FloatTensor toUnitNhwc(FloatTensor decoded, int i) {
        requireNchw(decoded);
        return POSTPROCESS.postprocessNp(decoded.row(i));
    }

    private static int[] requireNchw(FloatTensor decoded) {
        int[] s = decoded.shape();
        if (s.length != 4 || s[1] != 3 || s[0] < 1) {
            throw new IllegalArgumentException("decoded images must be [B, 3, H, W], found " + decoded);
        }
        return s;
    }
}
