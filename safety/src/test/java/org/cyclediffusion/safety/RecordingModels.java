package org.cyclediffusion.safety;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyClassifier;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.spi.SafetyModel;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.spi.Vae;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * A backend's real {@link Models}, passed through unchanged, with the shapes of every safety-model
 * call recorded: it shows how the checker drives the network without standing in for it.
 * Closing it does not close the delegate (its owner does).
 */
final class RecordingModels implements Models {
    private final Models delegate;
    private final SafetyModel safety;
    /** Per call: the shapes of its inputs (clip input, then the NHWC images for a classifier). */
    final List<int[][]> safetyCalls = new ArrayList<>();

    RecordingModels(Models delegate) {
        this.delegate = delegate;
        this.safety = delegate.safetyModel().map(this::recording).orElse(null);
    }

    private SafetyModel recording(SafetyModel model) {
        if (model instanceof SafetyClassifier classifier) {
            return new SafetyClassifier() {
                @Override
                public boolean[] flags(FloatTensor clipInput, FloatTensor imagesNhwc) {
                    safetyCalls.add(new int[][] {clipInput.shape(), imagesNhwc.shape()});
                    return classifier.flags(clipInput, imagesNhwc);
                }

                @Override
                public void close() {
                }
            };
        }
        SafetyEmbedder embedder = (SafetyEmbedder) model;
        return new SafetyEmbedder() {
            @Override
            public FloatTensor imageEmbeds(FloatTensor pixelValues) {
                safetyCalls.add(new int[][] {pixelValues.shape()});
                return embedder.imageEmbeds(pixelValues);
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public TextEncoder textEncoder() {
        return delegate.textEncoder();
    }

    @Override
    public UNet unet() {
        return delegate.unet();
    }

    @Override
    public Vae vae() {
        return delegate.vae();
    }

    @Override
    public Optional<SafetyModel> safetyModel() {
        return Optional.ofNullable(safety);
    }

    @Override
    public String description() {
        return delegate.description();
    }

    @Override
    public void close() {
        // The delegate belongs to the pipeline that loaded it.
    }
}
