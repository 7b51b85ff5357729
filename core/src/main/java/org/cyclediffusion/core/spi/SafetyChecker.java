package org.cyclediffusion.core.spi;

import java.util.List;
import org.cyclediffusion.core.tensor.FloatTensor;

/** Flags images that show unsafe concepts (Stable Diffusion's checker). */
public interface SafetyChecker extends AutoCloseable {
    /** decoded VAE output [B, 3, H, W] in about [-1, 1] → one verdict per image. */
    List<SafetyVerdict> check(FloatTensor decoded);

    @Override
    void close();
}
