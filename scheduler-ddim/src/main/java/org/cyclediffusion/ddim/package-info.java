/**
 * diffusers v0.23.0 {@code DDIMScheduler} and the DPM-Encoder operations of its
 * {@code CycleDiffusionPipeline}, bit-identical to diffusers on torch 1.13 CPU float32 for every
 * table, step and latent of the goldens.
 *
 * <p>Deliberate differences from diffusers (each has a test):
 * <ul>
 *   <li>{@code recoverNoise} converts v-prediction (and sample-prediction) outputs to ε and x̂_0 with
 *       the formulas {@code step} uses before recovering the noise; diffusers' {@code compute_noise}
 *       reads any output as ε, so for SD 2.x the recovered noise does not reproduce the source step
 *       ({@code DdimCycleChainTest}, {@code DdimDpmEncoderTest}).</li>
 *   <li>{@code recoverNoise} processes x̂_0 exactly as {@code step} does (thresholding,
 *       {@code clip_sample_range}); diffusers' {@code compute_noise} always clamps to [−1, 1] and never
 *       thresholds. Identical for every shipped Stable Diffusion config (no clipping).</li>
 *   <li>eta ≤ 0 (or NaN/∞) is rejected by {@code posteriorSample} and {@code recoverNoise}: diffusers
 *       divides by zero and then discards the noise, decoupling the edit from the source image.</li>
 *   <li>A step whose variance is 0 (e.g. {@code set_alpha_to_one} at the last leading step, or
 *       {@code linspace} at t = 0) recovers zero noise; diffusers divides by zero (inf, then NaN).</li>
 *   <li>{@code trailing} spacing: for 62 of the step counts 1…1000 numpy's arange yields one extra
 *       timestep, −1; we keep the n timesteps diffusers computes before it.</li>
 *   <li>{@code setTimesteps} rejects schedules that reach a timestep outside [0, T) (leading spacing
 *       with {@code steps_offset} 1 and 1000 steps), where diffusers fails later with an IndexError.</li>
 * </ul>
 */
package org.cyclediffusion.ddim;
