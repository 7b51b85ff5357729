package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.GoldenCases;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tiny-sd with its UNet, text encoder and VAE re-saved in 3 shards each, as
 * {@code save_pretrained(max_shard_size=...)} does: the same edit gives the same bytes as the
 * unsharded folder, since the same tensors reach the same networks, only from other files.
 */
class ShardedLoadTest {
    @Test
    void aShardedFolderEditsToTheSameBytes(@TempDir Path dir) {
        Path root = ModelCopies.shardedCopy(Fixtures.model("tiny-sd"), dir.resolve("tiny-sd-sharded"), 3, "unet", "text_encoder", "vae");
        assertTrue(!Files.exists(root.resolve("unet/diffusion_pytorch_model.safetensors"))
                && !Files.exists(root.resolve("text_encoder/model.safetensors")), "only shards are left to read");
        assertTrue(new TorchBackendProvider().canOpen(ModelFolder.open(root)), "the backend recognises a sharded UNet");

        EditRequest request = GoldenCases.request("v01_basic").build();
        EditResult expected = edit(Fixtures.model("tiny-sd"), request);
        EditResult sharded = edit(root, request);
        assertArrayEquals(TorchInvariantsTest.bits(expected.latents()), TorchInvariantsTest.bits(sharded.latents()), "final latents bits");
        assertArrayEquals(TorchInvariantsTest.bits(expected.imagesNp()), TorchInvariantsTest.bits(sharded.imagesNp()), "np output bits");
        assertEquals(expected.images().size(), sharded.images().size());
        for (int k = 0; k < expected.images().size(); k++) {
            assertArrayEquals(expected.images().get(k).rgb(), sharded.images().get(k).rgb(), "image " + k + " bytes");
        }
    }

    private static EditResult edit(Path root, EditRequest request) {
        try (CycleDiffusionPipeline p = new PipelineLoader().load(PipelineLoader.Options.of(root).withBackend("libtorch")
                .withSafetyChecker(false))) {
            return p.edit(request);
        }
    }
}
