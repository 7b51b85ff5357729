/**
 * The one layer library of the LibTorch backend: the torch.nn layers and diffusers blocks the
 * UNet, the VAE and the CLIP towers are made of, as functional LibTorch operations over loaded
 * weights. Every layer takes its parameters from a {@link org.cyclediffusion.libtorch.layers.ParameterSource},
 * so one assembly of a network both lists its expected state-dict names and shapes
 * ({@link org.cyclediffusion.libtorch.layers.ShapeRecorder}) and binds the loaded tensors. Blocks run
 * in a child {@link org.cyclediffusion.libtorch.layers.Scopes scope}, so their temporaries are freed
 * when they return. Internal to the backend (public only across its packages).
 */
package org.cyclediffusion.libtorch.layers;
