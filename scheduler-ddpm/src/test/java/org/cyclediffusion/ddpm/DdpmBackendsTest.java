package org.cyclediffusion.ddpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Locale;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditObserver;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.OutputType;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The DDPM plug-in through both real backends on the tiny models, chosen like a user chooses it
 * ({@code --scheduler DDPMScheduler} over the folder's DDIM config): reconstruction with target
 * prompt = source prompt, and batch rows that edit independently.
 *
 * <p>10 steps (8 run). The chains part only by float32 rounding (μ + σ·((x' − μ)/σ) is x' to an
 * ulp), which the following steps amplify through the model's Jacobian, more for DDPM's ancestral
 * step (coefficient c₀·√(1 − ᾱ_t)/√ᾱ_t on ε̂) than for DDIM at η = 0.1 and more under guidance:
 * measured at 20 steps (16 run), guidance 2, img_a, seed 9: DDPM 1.2e-5 (LibTorch) and 1.7e-5
 * (ONNX), DDIM 8.3e-6 and 4.8e-6; at 10 steps DDPM stays under 7e-6 on that (Intel, AMX) CPU. On an
 * AMD EPYC (AVX-512, AVX512-BF16) the same 10-step case measured LibTorch 1.11e-5 at guidance 2
 * (1.58e-5 with {@code ONEDNN_MAX_CPU_ISA=AVX2}; 6.5e-6 at guidance 1) and ONNX 6.7e-6: other kernels,
 * other roundings, amplified the same way. The bound is about 1.3× the worst of those; the algebra
 * itself is held to 1e-5 on pure-Java fakes ({@link DdpmPipelineTest}).
 */
class DdpmBackendsTest {
    private static final String HORSE = "An astronaut riding a horse";
    private static final double RECONSTRUCTION = 2e-5;

    static CycleDiffusionPipeline open(String backend, String model) {
        return new PipelineLoader().load(PipelineLoader.Options.of(Fixtures.model(model)).withBackend(backend).withSafetyChecker(false)
                .withScheduler("DDPMScheduler"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"libtorch,tiny-sd", "onnx,tiny-sd-onnx"})
    void reconstructsAndEditsRowsIndependently(String backend, String model) {
        try (CycleDiffusionPipeline p = open(backend, model)) {
            assertEquals("DDPMScheduler", p.sourceModel().scheduler().className());
            for (double g : new double[] {1, 2}) {
                FloatTensor[] clean = new FloatTensor[1];
                EditObserver obs = new EditObserver() {
                    @Override
                    public void tensor(String name, FloatTensor value) {
                        if (name.equals("clean_latents")) {
                            clean[0] = value;
                        }
                    }
                };
                EditResult r = p.edit(EditRequest.builder().prompt(HORSE).sourcePrompt(HORSE)
                        .image(ImageFiles.read(Fixtures.image("img_a_64x64.png"))).numInferenceSteps(10).guidanceScale(g)
                        .sourceGuidanceScale(g).seed(9).outputType(OutputType.LATENT).observer(obs).build());
                float d = r.latents().maxAbsDiff(clean[0]);
                System.out.printf(Locale.ROOT, "%s DDPM reconstruction guidance %.0f: max |final - clean| %.3e%n", backend, g, d);
                assertTrue(d <= RECONSTRUCTION, backend + " guidance " + g + ": max |final - clean| = " + d);
            }
            EditRequest.Builder batch = EditRequest.builder().sourcePrompt(HORSE).image(ImageFiles.read(Fixtures.image("img_a_64x64.png")))
                    .numInferenceSteps(10).guidanceScale(3).seed(4).outputType(OutputType.LATENT);
            EditResult a = p.edit(batch.prompt("An astronaut riding an elephant", "A cat").build());
            EditResult b = p.edit(batch.prompt("An astronaut riding an elephant", "A dog on the moon").build());
            assertArrayEquals(a.latents().row(0).data(), b.latents().row(0).data(), backend + ": row 0 does not see row 1's prompt");
            assertFalse(Arrays.equals(a.latents().row(1).data(), b.latents().row(1).data()));
        }
    }
}
