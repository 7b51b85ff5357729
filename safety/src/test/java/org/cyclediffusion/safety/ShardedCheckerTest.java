package org.cyclediffusion.safety;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
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
 * A safety checker saved in shards ({@code safety_checker/model.safetensors.index.json}): its
 * concept embeddings and its CLIP vision weights are read through the index, and it flags and
 * blacks out what the checker of the unsharded folder does (v08: the second image), to the byte.
 */
class ShardedCheckerTest {
    @Test
    void aShardedCheckerFlagsAsTheSingleFileOne(@TempDir Path dir) {
        Path root = ModelCopies.shardedCopy(Fixtures.model("tiny-sd"), dir.resolve("tiny-sd"), 3, "safety_checker");
        EditRequest request = GoldenCases.request("v08_two_prompts_two_images").build();
        EditResult expected = edit(Fixtures.model("tiny-sd"), request);
        EditResult sharded = edit(root, request);
        boolean[] flags = sharded.nsfwContentDetected().orElseThrow();
        assertEquals(List.of(false, true), List.of(flags[0], flags[1]));
        assertArrayEquals(expected.nsfwContentDetected().orElseThrow(), flags);
        for (int k = 0; k < expected.images().size(); k++) {
            assertArrayEquals(expected.images().get(k).rgb(), sharded.images().get(k).rgb(), "image " + k);
        }
    }

    private static EditResult edit(Path root, EditRequest request) {
        try (CycleDiffusionPipeline p = new PipelineLoader().load(ModelFolder.open(root), PipelineLoader.Options.of(root).withBackend("libtorch"))) {
            return p.edit(request);
        }
    }
}
