package org.cyclediffusion.core.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.fakes.FakeModels;
import org.cyclediffusion.core.testing.fakes.ToyDdimScheduler;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Two models and latent codes on the analytic fakes, whose networks compute each row alone: with
 * B = A the two-model pipeline, and encode + decode, are the one-model edit exactly, for the batch
 * shapes the hidden cases use (no guidance, several images per prompt, several images with their
 * own prompts).
 */
class TwoModelPipelineTest {
    private static final ClipTokenizer TOKENIZER = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));

    static DiffusionModel model(String name, FakeModels m, SchedulerFactory s) {
        return new DiffusionModel(name, m, TOKENIZER, s);
    }

    static EditRequest request(double guidance, int perPrompt, int images) {
        EditRequest.Builder b = EditRequest.builder().sourcePrompt("An astronaut riding a horse").numInferenceSteps(10).guidanceScale(guidance)
                .sourceGuidanceScale(guidance > 1 ? 2 : 1).numImagesPerPrompt(perPrompt).seed(11).outputType(OutputType.NP);
        if (images == 1) {
            return b.image(CycleDiffusionPipelineTest.image(64, 64, 1)).prompt("An astronaut riding an elephant").build();
        }
        return b.image(CycleDiffusionPipelineTest.image(64, 64, 1), CycleDiffusionPipelineTest.image(64, 64, 4))
                .prompt("An astronaut riding an elephant", "A cat").build();
    }

    @ParameterizedTest(name = "guidance {0}, {1} per prompt, {2} images")
    @CsvSource({"3, 1, 1", "1, 1, 1", "3, 2, 1", "3, 1, 2", "1, 2, 2"})
    void targetModelEqualToSourceAndEncodeDecodeAreTheEdit(double guidance, int perPrompt, int images, @TempDir Path dir) {
        EditRequest r = request(guidance, perPrompt, images);
        FakeModels one = new FakeModels();
        CycleDiffusionPipeline single = new CycleDiffusionPipeline(one, ToyDdimScheduler::factory, TOKENIZER, null, null);
        EditResult expected = single.edit(r);

        FakeModels a = new FakeModels();
        FakeModels b = new FakeModels();
        CycleDiffusionPipeline ab = new CycleDiffusionPipeline(model("A", a, ToyDdimScheduler.factory()), model("B", b,
                ToyDdimScheduler.factory()), null, null);
        EditResult twoModels = ab.edit(r);
        assertArrayEquals(expected.imagesNp().data(), twoModels.imagesNp().data(), "B = A is the one-model edit");
        assertTrue(a.unetCalls.get() > 0 && a.unetCalls.get() == b.unetCalls.get(), "one UNet call per chain and step");
        assertEquals((guidance > 1 ? 2 : 1) * images * perPrompt, b.lastUnetBatch, "B sees the target rows only");

        LatentCode code = single.encode(r.encodeRequest());
        assertEquals(images * perPrompt, code.batch());
        code.save(dir.resolve("c.safetensors"));
        EditResult decoded = single.decode(LatentCode.load(dir.resolve("c.safetensors")), r.decodeRequest());
        assertArrayEquals(expected.imagesNp().data(), decoded.imagesNp().data(), "decode(encode(r)) is edit(r)");
    }

    /** Codes decode under many prompts: each row under its own, and a one-row code under one prompt, others untouched. */
    @Test
    void oneCodeManyPrompts() {
        CycleDiffusionPipeline p = new CycleDiffusionPipeline(new FakeModels(), ToyDdimScheduler::factory, TOKENIZER, null, null);
        EditRequest r = request(3, 1, 1);
        LatentCode code = p.encode(r.encodeRequest());
        EditResult cat = p.decode(code, r.decodeRequest().toBuilder().prompt("A cat").build());
        EditResult dog = p.decode(code, r.decodeRequest().toBuilder().prompt("A dog").build());
        assertTrue(!Arrays.equals(cat.imagesNp().data(), dog.imagesNp().data()));
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> p.decode(code, r.decodeRequest().toBuilder().prompt("a", "b").build()));
        assertTrue(e.getMessage().startsWith("prompt: 2 given, expected 1"), e.getMessage());
    }

    @Test
    void modelsWithOtherBetasAreRefusedNamingBoth() {
        ConfigException e = assertThrows(ConfigException.class, () -> new CycleDiffusionPipeline(model("A", new FakeModels(),
                ToyDdimScheduler.factory()), model("B", new FakeModels(), ToyDdimScheduler.factory(1000, 0.0001, 0.02)), null, null));
        assertTrue(e.getMessage().contains("source model A and target model B do not share a noise schedule"), e.getMessage());
    }

    @Test
    void decodingWithOtherTimestepsNamesBoth() {
        CycleDiffusionPipeline p = new CycleDiffusionPipeline(new FakeModels(), ToyDdimScheduler::factory, TOKENIZER, null, null);
        EditRequest r = request(3, 1, 1);
        LatentCode code = p.encode(r.encodeRequest());
        LatentCode shifted = new LatentCode(code.scheduler(), code.noiseSchedule(), code.schedulerConfig(), Arrays.stream(code.timesteps())
                .map(t -> t + 1).toArray(), code.numInferenceSteps(), code.strength(), code.eta(), code.startLatents(), code.noises(),
                code.imageHeight(), code.imageWidth(), code.rows(), code.numImagesPerPrompt(), code.vaeScalingFactor(), code.model(),
                code.parameters());
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> p.decode(shifted, r.decodeRequest()));
        assertTrue(e.getMessage().contains("timesteps of the code") && e.getMessage().contains("[702,")
                && e.getMessage().contains("[701,"), e.getMessage());
    }
}
