package org.cyclediffusion.core.spi;

/**
 * The network half of Stable Diffusion's safety checker, as a backend can run it. The checker's
 * logic (preprocessing, scoring, policy) lives in the {@code safety} module; a backend offers one
 * of the two forms below.
 */
public sealed interface SafetyModel extends AutoCloseable permits SafetyEmbedder, SafetyClassifier {
    @Override
    void close();
}
