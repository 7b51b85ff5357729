package org.cyclediffusion.safety;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.GoldenCases;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A folder of fp16 variant files only, checker included ({@code safety_checker/model.fp16.safetensors},
 * as {@code save_pretrained(variant="fp16")} writes it): the checker is found and still flags what
 * diffusers flags (v08: the second image) with the weights upcast to fp32 on LibTorch.
 */
class VariantCheckerTest {
    @Test
    void theCheckerOfAVariantFolderFlagsAsTheFolders(@TempDir Path dir) {
        Path root = ModelCopies.fp16VariantOnly(Fixtures.model("tiny-sd"), dir.resolve("tiny-sd-fp16"), "unet", "vae", "text_encoder",
                "safety_checker");
        try (CycleDiffusionPipeline p = new PipelineLoader().load(ModelFolder.open(root),
                PipelineLoader.Options.of(root).withBackend("libtorch"))) {
            EditResult r = p.edit(GoldenCases.request("v08_two_prompts_two_images").build());
            boolean[] flags = r.nsfwContentDetected().orElseThrow();
            assertEquals(List.of(false, true), List.of(flags[0], flags[1]));
        }
    }
}
