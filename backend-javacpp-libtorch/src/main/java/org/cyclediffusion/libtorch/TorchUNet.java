package org.cyclediffusion.libtorch;

import java.util.Arrays;
import java.util.function.UnaryOperator;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.libtorch.unet.UNet2DConditionModel;

/**
 * {@link UNet} over {@link UNet2DConditionModel}: {@code unet/} of a diffusers folder. The
 * conditioning stays on the device for the whole edit; each step uploads the latents, runs one
 * forward pass and copies the prediction back (the step's only host sync). Any latent size works.
 */
final class TorchUNet extends TorchComponent implements UNet {
    private final UNet2DConditionModel model;

    private TorchUNet(TorchContext context, TorchWeights weights, UNet2DConditionModel model) {
        super("UNet", context, weights, model);
        this.model = model;
    }

    static TorchUNet load(ModelFolder folder, TorchContext context) {
        JsonConfig config = folder.config("unet", "config.json");
        TorchWeights weights = TorchWeights.load(folder.weights("unet", "diffusion_pytorch_model.safetensors"),
                UNet2DConditionModel.expectedShapes(config), UnaryOperator.identity(), context, context.scalarType());
        try {
            return new TorchUNet(context, weights, UNet2DConditionModel.build(folder.config("unet", "config.json"), weights.asMap()));
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    @Override
    public Conditioning condition(FloatTensor encoderHiddenStates) {
        ensureOpen();
        if (encoderHiddenStates.rank() != 3) {
            throw new CycleDiffusionException("UNet conditioning: expected encoder hidden states [B, tokens, dim], found "
                    + Arrays.toString(encoderHiddenStates.shape()));
        }
        Tensor onDevice = run(() -> context().upload(encoderHiddenStates).retainReference());
        return new TorchConditioning(this, onDevice);
    }

    @Override
    public FloatTensor predict(FloatTensor latents, long timestep, Conditioning conditioning) {
        ensureOpen();
        if (!(conditioning instanceof TorchConditioning c)) {
            throw new CycleDiffusionException("UNet: the conditioning must come from this UNet's condition(), found "
                    + (conditioning == null ? "null" : conditioning.getClass().getName()));
        }
        if (latents.rank() != 4 || latents.dim(1) != inChannels()) {
            throw new CycleDiffusionException("UNet latents: expected [B, " + inChannels() + ", h, w], found " + Arrays.toString(latents.shape()));
        }
        if (latents.dim(0) != c.batch()) {
            throw new CycleDiffusionException("UNet: latents have batch " + latents.dim(0) + " but the conditioning has batch " + c.batch()
                    + " (one row of encoder hidden states per latent)");
        }
        Tensor hidden = c.hiddenStates(this);
        return run(() -> {
            try (Tensor out = model.forward(context().upload(latents), timestep, hidden)) {
                return TorchContext.download(out);
            }
        });
    }

    @Override
    public boolean setAttentionSlicing(AttentionSlicing slicing) {
        model.setAttentionSlicing(slicing);
        return true;
    }

    @Override
    public int inChannels() {
        return model.config().inChannels();
    }
}
