package org.cyclediffusion.core.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.fakes.FakeModels;
import org.cyclediffusion.core.testing.fakes.ToyDdimScheduler;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The algorithm on analytic fake networks: invariants that need no reference. */
class CycleDiffusionPipelineTest {
    private static final String HORSE = "An astronaut riding a horse";
    private static final String ELEPHANT = "An astronaut riding an elephant";

    private FakeModels models;
    private CycleDiffusionPipeline pipeline;

    @BeforeEach
    void setUp() {
        models = new FakeModels();
        ClipTokenizer tokenizer = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));
        pipeline = new CycleDiffusionPipeline(models, ToyDdimScheduler::factory, tokenizer, null, models);
    }

    static RgbImage image(int w, int h, int seed) {
        byte[] px = new byte[w * h * 3];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) ((i * 31 + seed * 97 + (i / (w * 3)) * 7) & 0xff);
        }
        return new RgbImage(w, h, px);
    }

    private EditRequest.Builder base() {
        return EditRequest.builder().prompt(ELEPHANT).sourcePrompt(HORSE).image(image(64, 64, 1)).numInferenceSteps(20)
                .guidanceScale(2).seed(0).outputType(OutputType.NP);
    }

    /** Records clean latents so tests can compare the end of the target chain with them. */
    static final class Capture implements EditObserver {
        FloatTensor clean;
        FloatTensor finalLatents;
        final List<Float> reconstructionPerStep = new ArrayList<>();

        @Override
        public void tensor(String name, FloatTensor value) {
            if (name.equals("clean_latents")) {
                clean = value;
            } else if (name.equals("final_latents")) {
                finalLatents = value;
            }
        }

        @Override
        public void step(int index, int timestep, FloatTensor unetOut, FloatTensor sourceLatents, FloatTensor noise, FloatTensor latents) {
            reconstructionPerStep.add(latents.maxAbsDiff(sourceLatents));
        }
    }

    @Test
    void reconstructionWithoutGuidance() {
        Capture c = new Capture();
        EditRequest r = EditRequest.builder().prompt(HORSE).sourcePrompt(HORSE).image(image(64, 64, 1)).numInferenceSteps(20)
                .guidanceScale(1).sourceGuidanceScale(1).seed(3).outputType(OutputType.LATENT).observer(c).build();
        pipeline.edit(r);
        assertTrue(c.finalLatents.maxAbsDiff(c.clean) <= 1e-5, "target chain must reproduce the clean latents, got " + c.finalLatents.maxAbsDiff(c.clean));
        for (float d : c.reconstructionPerStep) {
            assertTrue(d <= 1e-5, "target chain left the source chain by " + d);
        }
    }

    @Test
    void reconstructionUnderGuidance() {
        Capture c = new Capture();
        EditRequest r = EditRequest.builder().prompt(HORSE).sourcePrompt(HORSE).image(image(64, 64, 2)).numInferenceSteps(20)
                .guidanceScale(2).sourceGuidanceScale(2).seed(9).outputType(OutputType.LATENT).observer(c).build();
        pipeline.edit(r);
        assertTrue(c.finalLatents.maxAbsDiff(c.clean) <= 1e-5, "got " + c.finalLatents.maxAbsDiff(c.clean));
    }

    @Test
    void editMovesAwayFromTheInput() {
        Capture c = new Capture();
        pipeline.edit(base().outputType(OutputType.LATENT).observer(c).build());
        assertTrue(c.finalLatents.maxAbsDiff(c.clean) > 1e-2, "a different prompt must change the image");
    }

    /**
     * At source_guidance_scale 1 the source chain's ∅ rows change nothing but rounding: the default
     * step runs three rows per image, true keeps diffusers' four, false drops them at any scale.
     */
    @Test
    void sourceChainAtScaleOneRunsItsConditionalRowsOnly() {
        EditResult fast = pipeline.edit(base().build());
        assertEquals(3, models.lastUnetBatch, "source c, target ∅, target c");
        EditResult exact = pipeline.edit(base().sourceGuided(true).build());
        assertEquals(4, models.lastUnetBatch, "diffusers' batch");
        float d = fast.imagesNp().maxAbsDiff(exact.imagesNp());
        assertTrue(d <= 1e-5, "u + 1·(c − u) against c: " + d);

        EditResult guidedSource = pipeline.edit(base().sourceGuidanceScale(3).build());
        assertEquals(4, models.lastUnetBatch, "a source scale other than 1 needs the ∅ rows");
        assertTrue(guidedSource.imagesNp().maxAbsDiff(exact.imagesNp()) > 1e-3, "the source scale is applied");
        EditResult unguidedSource = pipeline.edit(base().sourceGuidanceScale(3).sourceGuided(false).build());
        assertEquals(3, models.lastUnetBatch);
        assertArrayEquals(fast.imagesNp().data(), unguidedSource.imagesNp().data(), "an unguided source chain ignores its scale");

        EditResult unguidedTarget = pipeline.edit(base().guidanceScale(1).sourceGuided(true).sourceGuidanceScale(3).build());
        assertEquals(3, models.lastUnetBatch, "source ∅, source c, target c");
        assertTrue(unguidedTarget.imagesNp().maxAbsDiff(pipeline.edit(base().guidanceScale(1).build()).imagesNp()) > 1e-3,
                "a guided source chain under an unguided target");
    }

    /** Row i·n + k is (image i, prompt i): a row whose prompt equals its source reconstructs, under guidance. */
    @Test
    void batchRowsArePairedWithTheirOwnPromptUnderGuidance() {
        Capture c = new Capture();
        EditRequest r = EditRequest.builder().prompt(HORSE, ELEPHANT).sourcePrompt(HORSE, "A red car").image(image(64, 64, 1), image(64, 64, 5))
                .numImagesPerPrompt(2).numInferenceSteps(10).guidanceScale(3).sourceGuidanceScale(3).seed(4).outputType(OutputType.LATENT)
                .observer(c).build();
        EditResult result = pipeline.edit(r);
        assertEquals(4, result.latents().dim(0));
        assertEquals(16, models.lastUnetBatch, "one UNet call carries all four branches of all four rows");
        for (int row = 0; row < 2; row++) {
            float d = result.latents().row(row).maxAbsDiff(c.clean.row(row));
            assertTrue(d <= 1e-5, "row " + row + " (prompt = source) must reconstruct, got " + d);
        }
        for (int row = 2; row < 4; row++) {
            assertTrue(result.latents().row(row).maxAbsDiff(c.clean.row(row)) > 1e-2, "row " + row + " is an edit");
        }
        assertTrue(result.latents().row(0).maxAbsDiff(result.latents().row(1)) > 0, "copies get different noise");
        // image 0 feeds rows 0 and 1, image 1 rows 2 and 3 (repeat_interleave, not tiling)
        assertTrue(c.clean.row(0).maxAbsDiff(c.clean.row(1)) == 0);
        assertTrue(c.clean.row(0).maxAbsDiff(c.clean.row(2)) > 0);
    }

    @Test
    void sameSeedSameBitsOtherSeedOtherBits() {
        EditResult a = pipeline.edit(base().build());
        EditResult b = pipeline.edit(base().build());
        EditResult c = pipeline.edit(base().seed(1).build());
        assertArrayEquals(a.imagesNp().data(), b.imagesNp().data());
        assertFalse(Arrays.equals(a.imagesNp().data(), c.imagesNp().data()));
    }

    @Test
    void changingOneRowsPromptChangesNoOtherRow() {
        EditResult a = pipeline.edit(base().prompt(ELEPHANT, "A cat").build());
        EditResult b = pipeline.edit(base().prompt(ELEPHANT, "A dog on the moon").build());
        assertEquals(2, a.images().size());
        assertArrayEquals(a.latents().row(0).data(), b.latents().row(0).data());
        assertFalse(Arrays.equals(a.latents().row(1).data(), b.latents().row(1).data()));
    }

    /** diffusers' order: VAE sample on the distinct images, start noise, one posterior draw per step but the last. */
    @Test
    void drawOrderAndShapes() {
        List<int[]> draws = new ArrayList<>();
        TorchGenerator g = new TorchGenerator(0);
        NoiseSource recording = shape -> {
            draws.add(shape.clone());
            return g.randn(shape);
        };
        EditRequest r = EditRequest.builder().prompt(ELEPHANT, "A cat").sourcePrompt(HORSE).image(image(96, 64, 1)).numImagesPerPrompt(3)
                .numInferenceSteps(10).strength(0.8).guidanceScale(2).noise(recording).outputType(OutputType.LATENT).build();
        pipeline.edit(r);
        assertEquals(2 + 7, draws.size(), "8 steps run: 7 posterior draws, none at the last step");
        assertArrayEquals(new int[] {1, 4, 8, 12}, draws.get(0), "VAE sample on the one distinct image");
        for (int i = 1; i < draws.size(); i++) {
            assertArrayEquals(new int[] {6, 4, 8, 12}, draws.get(i));
        }
    }

    @Test
    void listenerSeesEveryKthStepAndCanCancel() {
        List<Integer> seen = new ArrayList<>();
        pipeline.edit(base().numInferenceSteps(10).callbackSteps(3).listener((i, n, t, x) -> seen.add(i)).build());
        assertEquals(List.of(0, 3, 6), seen);
        EditCancelledException e = assertThrows(EditCancelledException.class,
                () -> pipeline.edit(base().listener((i, n, t, x) -> i < 2).build()));
        assertTrue(e.getMessage().contains("after step 3"), e.getMessage());
        assertEquals(0, models.openConditionings.get(), "conditioning released on cancel");
    }

    @Test
    void strengthSelectsTheTailOfTheSchedule() {
        List<Integer> ts = new ArrayList<>();
        pipeline.edit(base().numInferenceSteps(50).strength(0.3).listener((i, n, t, x) -> ts.add(t)).build());
        assertEquals(15, ts.size());
        assertEquals(281, ts.get(0));
        assertEquals(1, ts.get(14));
    }

    @Test
    void outputsAreInRangeAndSized() {
        EditResult r = pipeline.edit(base().image(image(96, 64, 3)).build());
        assertArrayEquals(new int[] {1, 64, 96, 3}, r.imagesNp().shape());
        assertEquals(96, r.images().get(0).width());
        for (float v : r.imagesNp().data()) {
            assertTrue(v >= 0 && v <= 1);
        }
        assertEquals(16, r.timings().stepsMillis().length);
    }

    @Test
    void latentInputIsUsedAsIs() {
        FloatTensor latents = FloatTensor.zeros(1, 4, 8, 8);
        Capture c = new Capture();
        pipeline.edit(base().image().imageTensor(latents).observer(c).outputType(OutputType.LATENT).build());
        assertArrayEquals(latents.data(), c.clean.data());
    }

    @Test
    void theListenerHearsEachPhaseInOrderAndTheTruncationWarning() {
        List<String> heard = new ArrayList<>();
        org.cyclediffusion.core.spi.ProgressListener l = new org.cyclediffusion.core.spi.ProgressListener() {
            @Override
            public boolean onStep(int step, int totalSteps, int timestep, FloatTensor latents) {
                heard.add("step " + step);
                return true;
            }

            @Override
            public boolean onPhase(org.cyclediffusion.core.spi.EditPhase phase) {
                heard.add(phase.name());
                return true;
            }

            @Override
            public void onWarning(String message) {
                heard.add("warning: " + message);
            }
        };
        String longPrompt = "a photo of a horse ".repeat(16) + "zebra stripes everywhere";
        pipeline.edit(base().prompt(longPrompt).numInferenceSteps(2).strength(1).listener(l).build());
        String dropped = pipeline.tokenizer().truncatedText(longPrompt);
        assertEquals("a photo of a horse zebra stripes everywhere", dropped);
        assertEquals(List.of("ENCODING_PROMPT", "warning: The following part of your input was truncated because CLIP can only handle"
                + " sequences up to 77 tokens: ['" + dropped + "']", "ENCODING_IMAGE", "DENOISING", "step 0", "step 1", "DECODING"), heard);
    }

    @Test
    void aListenerThatSaysNoAtAPhaseCancelsBeforeIt() {
        org.cyclediffusion.core.spi.ProgressListener l = new org.cyclediffusion.core.spi.ProgressListener() {
            @Override
            public boolean onStep(int step, int totalSteps, int timestep, FloatTensor latents) {
                return true;
            }

            @Override
            public boolean onPhase(org.cyclediffusion.core.spi.EditPhase phase) {
                return phase != org.cyclediffusion.core.spi.EditPhase.DECODING;
            }
        };
        EditCancelledException e = assertThrows(EditCancelledException.class, () -> pipeline.edit(base().listener(l).build()));
        assertTrue(e.getMessage().contains("before decoding"), e.getMessage());
    }
}
