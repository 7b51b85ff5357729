package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * A whole exported checker (diffusers' ONNX {@code forward_onnx}): CLIP input [B, 3, 224, 224] and
 * images [B, H, W, 3] in [0, 1] → one flag per image.
 */
public non-sealed interface SafetyClassifier extends SafetyModel {
    boolean[] flags(FloatTensor clipInput, FloatTensor imagesNhwc);
}
