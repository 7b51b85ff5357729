package org.cyclediffusion.core.spi;

import java.util.Optional;

/** The networks of one Stable Diffusion model on one device; closing releases their native memory. */
public interface Models extends AutoCloseable {
    TextEncoder textEncoder();

    UNet unet();

    Vae vae();

    /** The model half of the safety checker, when the folder has one and the backend can run it. */
    Optional<SafetyModel> safetyModel();

    /** A short description for logs and PNG provenance, e.g. {@code onnx cpu fp32}. */
    String description();

    @Override
    void close();
}
