/**
 * diffusers v0.23.0 {@code DDPMScheduler} (ancestral sampling, variance types {@code fixed_small},
 * {@code fixed_small_log}, {@code fixed_large}; every prediction type; sample clipping and dynamic
 * thresholding) with the DPM-Encoder's posterior sample and noise recovery, as a plug-in found
 * through {@link java.util.ServiceLoader}: {@code --scheduler DDPMScheduler} on any Stable Diffusion
 * folder. diffusers' {@code CycleDiffusionPipeline} only works with DDIM.
 *
 * <p>Not implemented: {@code learned}/{@code learned_range} (need a UNet with twice the latent
 * channels), {@code fixed_large_log} (diffusers takes the square root of a log there), custom
 * timesteps.
 */
package org.cyclediffusion.ddpm;
