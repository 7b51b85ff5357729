package org.cyclediffusion.ddpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditObserver;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.InvalidRequestException;
import org.cyclediffusion.core.pipeline.LatentCode;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.fakes.FakeModels;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;
import org.junit.jupiter.api.Test;

/** CycleDiffusion with the DDPM plug-in on core's analytic fake networks: invariants that need no reference. */
class DdpmPipelineTest {
    private static final String HORSE = "An astronaut riding a horse";
    private static final String ELEPHANT = "An astronaut riding an elephant";
    private static final ModelFolder TINY_SD = ModelFolder.open(Fixtures.model("tiny-sd"));

    static SchedulerFactory ddpm(String variance) {
        var json = TINY_SD.config("scheduler", "scheduler_config.json");
        json.node().put("variance_type", variance);
        return Registry.discover().scheduler("DDPMScheduler", json);
    }

    static CycleDiffusionPipeline pipeline(FakeModels models, SchedulerFactory s) {
        return new CycleDiffusionPipeline(models, () -> s, ClipTokenizer.load(TINY_SD.component("tokenizer")), null, models);
    }

    static RgbImage image(int w, int h, int seed) {
        byte[] px = new byte[w * h * 3];
        for (int i = 0; i < px.length; i++) {
            px[i] = (byte) ((i * 31 + seed * 97 + (i / (w * 3)) * 7) & 0xff);
        }
        return new RgbImage(w, h, px);
    }

    static final class Clean implements EditObserver {
        FloatTensor clean;

        @Override
        public void tensor(String name, FloatTensor value) {
            if (name.equals("clean_latents")) {
                clean = value;
            }
        }
    }

    private static float reconstruct(String variance, double guidance) {
        FakeModels models = new FakeModels();
        Clean c = new Clean();
        EditResult r = pipeline(models, ddpm(variance)).edit(EditRequest.builder().prompt(HORSE).sourcePrompt(HORSE).image(image(64, 64, 1))
                .numInferenceSteps(20).guidanceScale(guidance).sourceGuidanceScale(guidance).seed(3).outputType(OutputType.LATENT)
                .observer(c).build());
        return r.latents().maxAbsDiff(c.clean);
    }

    /** Target prompt = source prompt: the target chain reproduces the input's clean latents, for every variance type, guided or not. */
    @Test
    void reconstruction() {
        for (String v : new String[] {"fixed_small", "fixed_small_log", "fixed_large"}) {
            for (double g : new double[] {1, 3}) {
                float d = reconstruct(v, g);
                assertTrue(d <= 1e-5, v + " guidance " + g + ": max |final − clean| = " + d);
            }
        }
    }

    @Test
    void anEditMovesAwayFromTheInput() {
        FakeModels models = new FakeModels();
        Clean c = new Clean();
        EditResult r = pipeline(models, ddpm("fixed_small")).edit(EditRequest.builder().prompt(ELEPHANT).sourcePrompt(HORSE)
                .image(image(64, 64, 1)).numInferenceSteps(20).guidanceScale(3).seed(3).outputType(OutputType.LATENT).observer(c).build());
        assertTrue(r.latents().maxAbsDiff(c.clean) > 1e-2);
    }

    /** Rows with their own prompts: a row whose prompt is its source reconstructs, the others edit; one row's prompt changes no other row. */
    @Test
    void batchRowsArePairedAndIsolated() {
        FakeModels models = new FakeModels();
        CycleDiffusionPipeline p = pipeline(models, ddpm("fixed_small"));
        Clean c = new Clean();
        EditRequest.Builder b = EditRequest.builder().sourcePrompt(HORSE, "A red car").image(image(64, 64, 1), image(64, 64, 5))
                .numImagesPerPrompt(2).numInferenceSteps(10).guidanceScale(3).sourceGuidanceScale(3).seed(4).outputType(OutputType.LATENT);
        EditResult r = p.edit(b.prompt(HORSE, ELEPHANT).observer(c).build());
        assertEquals(16, models.lastUnetBatch, "one stacked UNet call per step");
        for (int row = 0; row < 2; row++) {
            assertTrue(r.latents().row(row).maxAbsDiff(c.clean.row(row)) <= 1e-5, "row " + row + " reconstructs");
        }
        for (int row = 2; row < 4; row++) {
            assertTrue(r.latents().row(row).maxAbsDiff(c.clean.row(row)) > 1e-2, "row " + row + " is an edit");
        }
        EditResult other = p.edit(b.prompt(HORSE, "A dog on the moon").observer(null).build());
        assertArrayEquals(r.latents().rows(0, 2).data(), other.latents().rows(0, 2).data(), "rows of image 0 untouched");
        assertFalse(Arrays.equals(r.latents().rows(2, 4).data(), other.latents().rows(2, 4).data()));
    }

    /** A DDPM code decodes under DDPM as the edit does; under DDIM it is refused, naming both samplers. */
    @Test
    void aDdpmCodeDecodesOnlyWithDdpm() {
        FakeModels models = new FakeModels();
        EditRequest edit = EditRequest.builder().prompt(ELEPHANT).sourcePrompt(HORSE).image(image(64, 64, 2)).numInferenceSteps(10)
                .guidanceScale(2).seed(5).outputType(OutputType.LATENT).build();
        CycleDiffusionPipeline p = pipeline(models, ddpm("fixed_small"));
        LatentCode code = p.encode(edit.encodeRequest());
        assertEquals("DDPMScheduler", code.scheduler());
        EditResult decoded = p.decode(code, edit.decodeRequest());
        assertTrue(decoded.latents().maxAbsDiff(p.edit(edit).latents()) <= 1e-5);
        CycleDiffusionPipeline ddim = pipeline(new FakeModels(), Registry.discover().scheduler(TINY_SD));
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> ddim.decode(code, edit.decodeRequest()));
        assertTrue(e.getMessage().contains("DDPMScheduler") && e.getMessage().contains("DDIMScheduler"), e.getMessage());
    }
}
