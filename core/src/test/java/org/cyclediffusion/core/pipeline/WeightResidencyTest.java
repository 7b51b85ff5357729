package org.cyclediffusion.core.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.spi.SafetyChecker;
import org.cyclediffusion.core.spi.SafetyVerdict;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.fakes.FakeModels;
import org.cyclediffusion.core.testing.fakes.ToyDdimScheduler;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;
import org.junit.jupiter.api.Test;

/**
 * When the pipeline tells a backend that weights may leave memory: never under
 * {@link WeightResidency#KEEP}; under {@link WeightResidency#RELEASE_AFTER_USE} once per network,
 * right after its last pass of the run and before the next network runs, for edit, encode and
 * decode, for one model and for two. The networks are asked again in a later run, with the same
 * results (that the bytes are the same after a real backend released them is the LibTorch backend's
 * test).
 */
class WeightResidencyTest {
    private static final ClipTokenizer TOKENIZER = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));

    /** A checker that flags nothing and logs its pass into the model's event list. */
    private static SafetyChecker checker(FakeModels models) {
        return new SafetyChecker() {
            @Override
            public List<SafetyVerdict> check(FloatTensor decoded) {
                models.events.add("check");
                List<SafetyVerdict> v = new ArrayList<>();
                for (int i = 0; i < decoded.dim(0); i++) {
                    v.add(SafetyVerdict.flagOnly(false));
                }
                return v;
            }

            @Override
            public void close() {
            }
        };
    }

    private static CycleDiffusionPipeline pipeline(FakeModels models, WeightResidency residency) {
        DiffusionModel m = new DiffusionModel("fake", models, TOKENIZER, ToyDdimScheduler.factory());
        return new CycleDiffusionPipeline(m, null, checker(models), null, residency);
    }

    private static EditRequest request() {
        return EditRequest.builder().prompt("An astronaut riding an elephant").sourcePrompt("An astronaut riding a horse")
                .image(CycleDiffusionPipelineTest.image(64, 64, 1)).numInferenceSteps(10).strength(0.5).guidanceScale(2).seed(3)
                .outputType(OutputType.NP).build();
    }

    /** The events with repeats of the same network pass collapsed (a UNet pass per step, a text pass per prompt list). */
    private static List<String> collapsed(List<String> events) {
        List<String> out = new ArrayList<>();
        for (String e : events) {
            if (out.isEmpty() || !out.get(out.size() - 1).equals(e)) {
                out.add(e);
            }
        }
        return out;
    }

    private static final List<String> EDIT = List.of("text", "release ENCODING_PROMPT", "vae.encode", "release ENCODING_IMAGE", "unet",
            "release DENOISING", "vae.decode", "release DECODING", "check", "release SAFETY_CHECK");

    @Test
    void keepNeverReleasesAndIsTheDefault() {
        FakeModels models = new FakeModels();
        DiffusionModel m = new DiffusionModel("fake", models, TOKENIZER, ToyDdimScheduler.factory());
        CycleDiffusionPipeline byDefault = new CycleDiffusionPipeline(m, null, checker(models), null);
        assertEquals(WeightResidency.KEEP, byDefault.weightResidency());
        assertEquals(WeightResidency.KEEP, PipelineLoader.Options.of(Fixtures.model("tiny-sd")).weightResidency());
        byDefault.edit(request());
        pipeline(models, WeightResidency.KEEP).edit(request());
        assertTrue(models.events.stream().noneMatch(e -> e.startsWith("release")), models.events.toString());
    }

    @Test
    void releaseFollowsEachNetworksLastPassAndChangesNoOutput() {
        FakeModels kept = new FakeModels();
        EditResult expected = pipeline(kept, WeightResidency.KEEP).edit(request());
        FakeModels released = new FakeModels();
        CycleDiffusionPipeline p = pipeline(released, WeightResidency.RELEASE_AFTER_USE);
        EditResult first = p.edit(request());
        assertEquals(EDIT, collapsed(released.events));
        assertArrayEquals(expected.imagesNp().data(), first.imagesNp().data());

        released.events.clear();
        EditResult second = p.edit(request());
        assertEquals(EDIT, collapsed(released.events), "a second run uses and releases every network again");
        assertArrayEquals(expected.imagesNp().data(), second.imagesNp().data());
    }

    @Test
    void encodeAndDecodeReleaseWhatTheyRan() {
        FakeModels models = new FakeModels();
        CycleDiffusionPipeline p = pipeline(models, WeightResidency.RELEASE_AFTER_USE);
        LatentCode code = p.encode(request().encodeRequest());
        assertEquals(List.of("text", "release ENCODING_PROMPT", "vae.encode", "release ENCODING_IMAGE", "unet", "release DENOISING"),
                collapsed(models.events));
        models.events.clear();
        p.decode(code, request().decodeRequest());
        assertEquals(List.of("text", "release ENCODING_PROMPT", "unet", "release DENOISING", "vae.decode", "release DECODING", "check",
                "release SAFETY_CHECK"), collapsed(models.events));
    }

    /** Two models: each is told about the networks it ran (A encodes and decodes the image, B's checker checks). */
    @Test
    void twoModelsEachReleaseTheirOwn() {
        FakeModels a = new FakeModels();
        FakeModels b = new FakeModels();
        CycleDiffusionPipeline p = new CycleDiffusionPipeline(new DiffusionModel("A", a, TOKENIZER, ToyDdimScheduler.factory()),
                new DiffusionModel("B", b, TOKENIZER, ToyDdimScheduler.factory()), checker(b), null, WeightResidency.RELEASE_AFTER_USE);
        p.edit(request());
        assertEquals(List.of("text", "release ENCODING_PROMPT", "vae.encode", "release ENCODING_IMAGE", "unet", "release DENOISING",
                "vae.decode", "release DECODING"), collapsed(a.events));
        assertEquals(List.of("text", "release ENCODING_PROMPT", "unet", "release DENOISING", "check", "release SAFETY_CHECK"),
                collapsed(b.events));
    }
}
