package org.cyclediffusion.core.spi;

/**
 * The capability to run the DPM-Encoder, as a sampler definition offers it
 * ({@link SchedulerFactory#dpmEncoding()}). Its absence is how a sampler that cannot encode says so,
 * when the pipeline loads rather than in the middle of an edit.
 */
public interface DpmEncoding {
    /**
     * A fresh source chain. Fails with {@link IllegalArgumentException} naming the option when the
     * options make encoding impossible (DDIM at eta = 0: its step then ignores the noise).
     */
    DpmEncoder encoder(SamplerOptions options);
}
