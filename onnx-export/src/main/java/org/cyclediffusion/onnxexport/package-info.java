/**
 * Export of a diffusers Stable Diffusion folder to the ONNX layout the ONNX backend runs
 * ({@link org.cyclediffusion.onnxexport.OnnxExporter}), in plain Java: the graphs are built from
 * the components' configs as torch.onnx would trace the PyTorch modules (opset 14, state-dict
 * names for weights, module scopes for node names), and the weights are streamed from the
 * safetensors files into ONNX external data. No Python, no protoc, no download: a full-size
 * random-weight folder ({@code cyclediffusion random-model}) gives a full-size ONNX model to
 * benchmark.
 *
 * <p>Covered: CLIP text encoder ({@code last_hidden_state}, {@code pooler_output}), UNet2DConditionModel
 * as SD 1.x and 2.x configure it, AutoencoderKL's encoder ({@code latent_parameters}) and decoder,
 * and the safety checker ({@code forward_onnx}). Parity: the tiny fixtures' exports match
 * diffusers' goldens through the ONNX backend within the bounds of the fixture's torch export.
 */
package org.cyclediffusion.onnxexport;
