package org.cyclediffusion.safety;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyClassifier;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.spi.SafetyModel;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.spi.Vae;
import org.cyclediffusion.core.tensor.FloatTensor;

/** A {@link Models} that only offers a (fake) safety model, for the policy tests; nothing else is loaded. */
final class FakeModels implements Models {
    private final SafetyModel safetyModel;

    FakeModels(SafetyModel safetyModel) {
        this.safetyModel = safetyModel;
    }

    @Override
    public TextEncoder textEncoder() {
        throw new UnsupportedOperationException("not needed by the safety tests");
    }

    @Override
    public UNet unet() {
        throw new UnsupportedOperationException("not needed by the safety tests");
    }

    @Override
    public Vae vae() {
        throw new UnsupportedOperationException("not needed by the safety tests");
    }

    @Override
    public Optional<SafetyModel> safetyModel() {
        return Optional.ofNullable(safetyModel);
    }

    @Override
    public String description() {
        return "fake cpu fp32";
    }

    @Override
    public void close() {
    }

    /** Records the pixel values it is given and answers with fixed embeddings. */
    static final class RecordingEmbedder implements SafetyEmbedder {
        final List<FloatTensor> calls = new ArrayList<>();
        private final Function<FloatTensor, FloatTensor> answer;

        RecordingEmbedder(Function<FloatTensor, FloatTensor> answer) {
            this.answer = answer;
        }

        @Override
        public FloatTensor imageEmbeds(FloatTensor pixelValues) {
            calls.add(pixelValues);
            return answer.apply(pixelValues);
        }

        @Override
        public void close() {
        }
    }

    /** Records its two inputs per call and flags the images whose call index is listed. */
    static final class RecordingClassifier implements SafetyClassifier {
        final List<FloatTensor> clipInputs = new ArrayList<>();
        final List<FloatTensor> images = new ArrayList<>();
        private final boolean[] answers;

        RecordingClassifier(boolean... answers) {
            this.answers = answers;
        }

        @Override
        public boolean[] flags(FloatTensor clipInput, FloatTensor imagesNhwc) {
            clipInputs.add(clipInput);
            images.add(imagesNhwc);
            return new boolean[] {answers[clipInputs.size() - 1]};
        }

        @Override
        public void close() {
        }
    }
}
