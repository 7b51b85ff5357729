package org.cyclediffusion.core.spi;

import java.util.Optional;

/** The networks of one Stable Diffusion model on one device; closing releases their native memory. */
public interface Models extends AutoCloseable {
    TextEncoder textEncoder();

    UNet unet();

    Vae vae();

    /** The model half of the safety checker, when the folder has one and the backend can run it. */
    Optional<SafetyModel> safetyModel();

    /**
     * A hint that the weights of the networks {@code phase} runs will not be needed again soon (the
     * pipeline gives it after their last use in a run under {@code WeightResidency.RELEASE_AFTER_USE}):
     * {@link EditPhase#ENCODING_PROMPT} the text encoder, {@link EditPhase#ENCODING_IMAGE} the VAE's
     * encoder half, {@link EditPhase#DENOISING} the UNet, {@link EditPhase#DECODING} the VAE's decoder
     * half, {@link EditPhase#SAFETY_CHECK} the safety checker's network. A backend whose weights are
     * views of a file mapping drops their pages from the process's resident set; the next pass
     * faults them in again (from the OS page cache while it keeps them), with identical results.
     * Nothing is closed or invalidated: every network stays usable. Weights held in the backend's
     * own memory (copies, another device, ONNX Runtime sessions) cannot be dropped without being
     * lost, so the default does nothing.
     */
    default void releaseResidentWeights(EditPhase phase) {
    }

    /** A short description for logs and PNG provenance, e.g. {@code onnx cpu fp32}. */
    String description();

    @Override
    void close();
}
