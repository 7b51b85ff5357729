package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * CLIP vision tower plus {@code visual_projection}: pixel values [B, 3, 224, 224] from
 * {@code CLIPImageProcessor} → image embeddings [B, projection_dim]. Scoring against the concept
 * embeddings happens in Java.
 */
public non-sealed interface SafetyEmbedder extends SafetyModel {
    FloatTensor imageEmbeds(FloatTensor pixelValues);
}
