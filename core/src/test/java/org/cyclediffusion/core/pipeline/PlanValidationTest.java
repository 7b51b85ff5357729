package org.cyclediffusion.core.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import java.util.Optional;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.spi.DpmEncoding;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.fakes.FakeModels;
import org.cyclediffusion.core.testing.fakes.ToyDdimScheduler;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Every bad parameter fails before any network runs, with a message naming it. */
class PlanValidationTest {

    static Stream<Arguments> badRequests() {
        return Stream.of(
                Arguments.of("eta = 0.0", (UnaryOperator<EditRequest.Builder>) b -> b.eta(0)),
                Arguments.of("eta = -0.5", (UnaryOperator<EditRequest.Builder>) b -> b.eta(-0.5)),
                Arguments.of("eta = NaN", (UnaryOperator<EditRequest.Builder>) b -> b.eta(Double.NaN)),
                Arguments.of("strength = 1.5", (UnaryOperator<EditRequest.Builder>) b -> b.strength(1.5)),
                Arguments.of("strength = -0.1", (UnaryOperator<EditRequest.Builder>) b -> b.strength(-0.1)),
                Arguments.of("runs no denoising step", (UnaryOperator<EditRequest.Builder>) b -> b.strength(0.05).numInferenceSteps(10)),
                Arguments.of("runs no denoising step", (UnaryOperator<EditRequest.Builder>) b -> b.strength(0)),
                Arguments.of("numInferenceSteps = 0", (UnaryOperator<EditRequest.Builder>) b -> b.numInferenceSteps(0)),
                Arguments.of("numImagesPerPrompt = 0", (UnaryOperator<EditRequest.Builder>) b -> b.numImagesPerPrompt(0)),
                Arguments.of("callbackSteps = 0", (UnaryOperator<EditRequest.Builder>) b -> b.callbackSteps(0)),
                Arguments.of("clipSkip = -1", (UnaryOperator<EditRequest.Builder>) b -> b.clipSkip(-1)),
                Arguments.of("guidanceScale = Infinity", (UnaryOperator<EditRequest.Builder>) b -> b.guidanceScale(Double.POSITIVE_INFINITY)),
                Arguments.of("prompt: 2 given, expected 1", (UnaryOperator<EditRequest.Builder>) b -> b.prompt("a", "b").sourcePrompt("x", "y", "z")),
                Arguments.of("image: 2 given, expected 1 (used for every row) or 3",
                        (UnaryOperator<EditRequest.Builder>) b -> b.prompt("b", "c", "d").sourcePrompt("s").image(CycleDiffusionPipelineTest.image(64, 64, 2),
                                CycleDiffusionPipelineTest.image(64, 64, 3))),
                Arguments.of("imageTensor: expected", (UnaryOperator<EditRequest.Builder>) b -> b.image().imageTensor(FloatTensor.zeros(3, 8, 8))),
                Arguments.of("give either images or imageTensor", (UnaryOperator<EditRequest.Builder>) b -> b.imageTensor(FloatTensor.zeros(1, 3, 64, 64))),
                Arguments.of("give either prompts or promptEmbeds", (UnaryOperator<EditRequest.Builder>) b -> b.promptEmbeds(FloatTensor.zeros(1, 77, 8))),
                Arguments.of("promptEmbeds: expected", (UnaryOperator<EditRequest.Builder>) b -> b.prompt().promptEmbeds(FloatTensor.zeros(77, 8))));
    }

    private static CycleDiffusionPipeline pipeline(FakeModels models, java.util.function.Supplier<SchedulerFactory> s) {
        return new CycleDiffusionPipeline(models, s, ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer")), null, null);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badRequests")
    void rejectedBeforeAnyModelRuns(String expected, UnaryOperator<EditRequest.Builder> change) {
        FakeModels models = new FakeModels();
        CycleDiffusionPipeline p = pipeline(models, ToyDdimScheduler::factory);
        EditRequest.Builder b = EditRequest.builder().prompt("a cat").sourcePrompt("a dog").image(CycleDiffusionPipelineTest.image(64, 64, 1));
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> p.edit(change.apply(b).build()));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertEquals(0, models.unetCalls.get());
    }

    @Test
    void missingPromptSourceOrImage() {
        FakeModels models = new FakeModels();
        CycleDiffusionPipeline p = pipeline(models, ToyDdimScheduler::factory);
        assertTrue(assertThrows(InvalidRequestException.class, () -> p.edit(EditRequest.builder().sourcePrompt("a")
                .image(CycleDiffusionPipelineTest.image(64, 64, 1)).build())).getMessage().startsWith("prompt"));
        assertTrue(assertThrows(InvalidRequestException.class, () -> p.edit(EditRequest.builder().prompt("a")
                .image(CycleDiffusionPipelineTest.image(64, 64, 1)).build())).getMessage().startsWith("sourcePrompt"));
        assertTrue(assertThrows(InvalidRequestException.class, () -> p.edit(EditRequest.builder().prompt("a").sourcePrompt("b").build()))
                .getMessage().startsWith("image"));
    }

    /** A sampler without the DPM-Encoder capability says so when the pipeline is assembled, by name, before any edit. */
    @Test
    void aSchedulerThatCannotEncodeIsRejectedAtLoad() {
        SchedulerFactory plain = new SchedulerFactory() {
            @Override
            public String className() {
                return "EulerDiscreteScheduler";
            }

            @Override
            public String noiseScheduleDigest() {
                return "sha256:0";
            }

            @Override
            public String configDigest() {
                return "sha256:0";
            }

            @Override
            public Scheduler create(SamplerOptions options) {
                throw new AssertionError("no chain may be created");
            }

            @Override
            public Optional<DpmEncoding> dpmEncoding() {
                return Optional.empty();
            }
        };
        FakeModels models = new FakeModels();
        ConfigException e = assertThrows(ConfigException.class, () -> pipeline(models, () -> plain));
        assertTrue(e.getMessage().contains("EulerDiscreteScheduler") && e.getMessage().contains("cannot be used for CycleDiffusion"),
                e.getMessage());
        assertEquals(0, models.unetCalls.get());
    }
}
