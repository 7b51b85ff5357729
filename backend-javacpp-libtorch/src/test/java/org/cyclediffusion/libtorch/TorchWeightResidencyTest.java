package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.pipeline.WeightResidency;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyEmbedder;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.GoldenCases;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link WeightResidency#RELEASE_AFTER_USE} on the LibTorch backend, tiny-sd: an edit that releases
 * every network's weights after its last use gives the same bytes as one that keeps them, leaves
 * none of the weight files resident, and a second edit on the same pipeline (every page faulted in
 * again) still matches diffusers' golden. The model is copied (not linked) into a temporary folder,
 * so the resident pages of its files in {@code /proc/self/smaps} are this test's alone. Linux only.
 */
@EnabledOnOs(OS.LINUX)
class TorchWeightResidencyTest {
    private static final String CASE = "v01_basic";

    @TempDir
    Path tmp;

    /** A copy, not links: the pages of these files in smaps are then this test's alone. */
    private static Path copy(String fixture, Path into) {
        Path target = into.resolve(fixture);
        ModelCopies.copyTree(Fixtures.model(fixture), target);
        return target;
    }

    private static long resident(Path folder, String component, String file) {
        return ResidentWeightsTest.residentBytesOf(folder.resolve(component).resolve(file));
    }

    private static long unet(Path folder) {
        return resident(folder, "unet", "diffusion_pytorch_model.safetensors");
    }

    private static long textEncoder(Path folder) {
        return resident(folder, "text_encoder", "model.safetensors");
    }

    private static long vae(Path folder) {
        return resident(folder, "vae", "diffusion_pytorch_model.safetensors");
    }

    @Test
    void releasingAfterEachPhaseChangesNoByteAndLeavesNoWeightResident() {
        Path folder = copy("tiny-sd", tmp);
        JsonNode c = Golden.caseJson(CASE);
        EditRequest request = GoldenCases.request(c).build();
        PipelineLoader.Options options = PipelineLoader.Options.of(folder).withBackend("libtorch").withSafetyChecker(false);
        EditResult kept;
        try (CycleDiffusionPipeline keep = new PipelineLoader().load(options)) {
            kept = keep.edit(request);
            // The control: without the policy every network's pages stay (so the checks below can fail).
            assertTrue(unet(folder) > 0 && textEncoder(folder) > 0 && vae(folder) > 0, "kept weights are resident");
        }
        try (CycleDiffusionPipeline release = new PipelineLoader().load(options.withWeightResidency(WeightResidency.RELEASE_AFTER_USE))) {
            EditResult released = release.edit(request);
            assertArrayEquals(kept.latents().data(), released.latents().data(), "final latents, bit for bit");
            assertArrayEquals(kept.imagesNp().data(), released.imagesNp().data(), "images, bit for bit");
            assertEquals(0, unet(folder), "UNet pages resident after the edit");
            assertEquals(0, textEncoder(folder), "text encoder pages resident after the edit");
            assertEquals(0, vae(folder), "VAE pages resident after the edit");

            // Every page faults in again from the file: still diffusers' result, and still released at the end.
            TorchPipelineParityTest.assertMatchesDiffusers(CASE, c, release);
            assertArrayEquals(kept.imagesNp().data(), release.edit(request).imagesNp().data(), "a third edit, bit for bit");
            assertEquals(0, unet(folder) + textEncoder(folder) + vae(folder), "weight pages resident after later edits");
        }
    }

    /**
     * Each phase releases its own networks only: the VAE's encoder half leaves its decoder half
     * resident; the safety checker is released only once loaded, and releasing never loads it.
     */
    @Test
    void eachPhaseReleasesItsOwnWeights() {
        Path folder = copy("tiny-sd", tmp);
        Path checkerFile = folder.resolve("safety_checker/model.safetensors");
        try (CycleDiffusionPipeline p = new PipelineLoader().load(PipelineLoader.Options.of(folder).withBackend("libtorch")
                .withSafetyChecker(false))) {
            Models models = p.models();
            models.releaseResidentWeights(EditPhase.SAFETY_CHECK);
            assertEquals(0, ResidentWeightsTest.residentBytesOf(checkerFile), "the checker was neither loaded nor mapped");

            FloatTensor pixels = new FloatTensor(new float[3 * 64 * 64], 1, 3, 64, 64);
            FloatTensor latents = models.vae().encode(pixels).mean();
            models.vae().decode(latents);
            long both = vae(folder);
            models.releaseResidentWeights(EditPhase.ENCODING_IMAGE);
            long decoderOnly = vae(folder);
            assertTrue(decoderOnly > 0 && decoderOnly < both, "encoder pages released, decoder pages kept: " + both + " -> " + decoderOnly);
            models.releaseResidentWeights(EditPhase.DECODING);
            assertEquals(0, vae(folder), "decoder pages released");

            SafetyEmbedder embedder = (SafetyEmbedder) models.safetyModel().orElseThrow();
            embedder.imageEmbeds(new FloatTensor(new float[3 * 224 * 224], 1, 3, 224, 224));
            assertTrue(ResidentWeightsTest.residentBytesOf(checkerFile) > 0, "the checker ran");
            long[][] ids = new long[1][77];
            models.textEncoder().encode(ids, 0);
            long text = textEncoder(folder);
            models.releaseResidentWeights(EditPhase.SAFETY_CHECK);
            assertEquals(0, ResidentWeightsTest.residentBytesOf(checkerFile), "checker pages released");
            assertTrue(text > 0 && textEncoder(folder) == text, "the text encoder's pages are kept: " + text + " -> " + textEncoder(folder));
        }
    }
}
