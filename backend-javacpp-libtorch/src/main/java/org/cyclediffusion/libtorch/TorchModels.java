package org.cyclediffusion.libtorch;

import java.util.Optional;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyModel;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.spi.Vae;

/** The networks of one diffusers folder on one device (placeholder until the UNet lands). */
final class TorchModels implements Models {
    private final TorchContext context;
    private final TorchTextEncoder textEncoder;

    private TorchModels(TorchContext context, TorchTextEncoder textEncoder) {
        this.context = context;
        this.textEncoder = textEncoder;
    }

    static TorchModels open(ModelFolder folder, TorchContext context) {
        return new TorchModels(context, TorchTextEncoder.load(folder, context));
    }

    @Override
    public TextEncoder textEncoder() {
        return textEncoder;
    }

    @Override
    public UNet unet() {
        throw new UnsupportedOperationException();
    }

    @Override
    public Vae vae() {
        throw new UnsupportedOperationException();
    }

    @Override
    public Optional<SafetyModel> safetyModel() {
        return Optional.empty();
    }

    @Override
    public String description() {
        return "libtorch " + context;
    }

    @Override
    public void close() {
        textEncoder.close();
    }
}
