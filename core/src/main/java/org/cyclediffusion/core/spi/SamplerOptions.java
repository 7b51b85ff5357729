package org.cyclediffusion.core.spi;

/**
 * The sampler arguments of a pipeline call. diffusers' pipelines hand {@code eta} to a scheduler's
 * {@code step} when its signature accepts it ({@code prepare_extra_step_kwargs}) and drop it
 * otherwise; here a sampler reads what it knows once, when a chain is created, and no step call
 * carries it.
 *
 * @param eta DDIM's stochasticity η (σ_t = η·σ_DDPM); samplers without such a knob ignore it
 */
public record SamplerOptions(double eta) {
    /** diffusers' default for {@code CycleDiffusionPipeline.__call__}. */
    public static final SamplerOptions DEFAULT = new SamplerOptions(0.1);
}
