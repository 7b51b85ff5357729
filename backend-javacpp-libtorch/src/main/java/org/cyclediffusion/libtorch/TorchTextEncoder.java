package org.cyclediffusion.libtorch;

import java.util.function.UnaryOperator;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.tensor.FloatTensor;

/** {@link TextEncoder} over {@link ClipTextModel}: {@code text_encoder/} of a diffusers folder. */
final class TorchTextEncoder extends TorchComponent implements TextEncoder {
    private final ClipTextModel model;

    private TorchTextEncoder(TorchContext context, TorchWeights weights, ClipTextModel model) {
        super("text encoder", context, weights);
        this.model = model;
    }

    static TorchTextEncoder load(ModelFolder folder, TorchContext context) {
        ClipTextConfig config = ClipTextConfig.read(folder.config("text_encoder", "config.json"));
        TorchWeights weights = TorchWeights.load(folder.weights("text_encoder", "model.safetensors"),
                ClipTextModel.expectedShapes(config), UnaryOperator.identity(), context, context.scalarType());
        try {
            return new TorchTextEncoder(context, weights, new ClipTextModel(config, weights));
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    @Override
    public FloatTensor encode(long[][] ids, int clipSkip) {
        return run(() -> TorchContext.download(model.forward(context().uploadIds(ids), clipSkip)));
    }

    @Override
    public int hiddenSize() {
        return model.hiddenSize();
    }
}
