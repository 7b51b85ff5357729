/**
 * The ONNX Runtime backend ({@code --backend onnx}): runs a Stable Diffusion folder exported by
 * optimum ({@code optimum-cli export onnx}) or by diffusers' {@code convert_stable_diffusion_checkpoint_to_onnx.py}.
 *
 * <p>What it accepts, checked against each session's declared signature when it opens
 * ({@link org.cyclediffusion.onnx.OrtSignature}):
 * <ul>
 *   <li>{@code input_ids} int64 or int32; UNet {@code timestep} float32 rank 0, int64 {@code [n]} or
 *       float32 {@code [batch]}; float32, float16 or bfloat16 networks (converted at the boundary; the
 *       requested dtype must be the UNet's, since an export's precision is fixed);</li>
 *   <li>VAE encoders that output {@code latent_parameters} (split and clamped here, sampled with the
 *       pipeline's seeded generator) or {@code latent_sample} (sampled inside the graph: not seedable;
 *       returned as a zero-variance distribution, with a warning);</li>
 *   <li>weights in external data beside a model ({@code model.onnx_data}, {@code weights.pb}):
 *       sessions are created from the file path;</li>
 *   <li>clip skip, by exposing the inner layers' outputs of the text encoder graph
 *       ({@link org.cyclediffusion.onnx.OrtClipSkip});</li>
 *   <li>the diffusers-script safety checker (one image per run).</li>
 * </ul>
 *
 * <p>Start and stop: the optimised graphs are cached between runs ({@link org.cyclediffusion.onnx.OrtModelCache});
 * native calls are tracked so that closing the models, or the JVM's shutdown, never frees a session
 * under a thread still inside it ({@link org.cyclediffusion.onnx.OrtNativeCalls}); ONNX Runtime's
 * own log is quiet and its errors become one-line messages ({@link org.cyclediffusion.onnx.OrtRuntime},
 * {@link org.cyclediffusion.onnx.OrtErrors}). The default precision is the export's.
 *
 * <p>Limits: an exported UNet only takes latent sides divisible by its total down-sampling
 * ({@code UNet.checkLatentSize} says which image sizes work); CUDA needs the
 * {@code com.microsoft.onnxruntime:onnxruntime_gpu} artifact in place of {@code onnxruntime}.
 * ONNX Runtime's Java API has no device-resident tensors, so on CUDA the prepared conditioning is
 * a host tensor that ONNX Runtime copies at each run.
 */
package org.cyclediffusion.onnx;
