package org.cyclediffusion.core.random;

import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The one source of every random draw in an edit. The default, {@link TorchGenerator}, matches
 * {@code torch.Generator().manual_seed(seed)} on CPU, so seeds carry over from diffusers.
 */
public interface NoiseSource {
    /** Standard normal samples of the given shape, as {@code torch.randn(shape, generator=g)}. */
    FloatTensor randn(int... shape);
}
