package org.cyclediffusion.core.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.io.ShardedSafetensors;
import org.cyclediffusion.core.io.TensorSource;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A repository whose UNet and text encoder are saved in shards, with fp16 shards beside them,
 * downloaded from {@link FakeHub} over HTTP: the indexes and the plain shards arrive (one resumed
 * after a dropped connection), the fp16 ones stay on the hub, and the snapshot reads as the
 * folder the shards were cut from.
 */
class HubShardedDownloadTest {
    private static final String SECOND = "unet/diffusion_pytorch_model-00002-of-00003.safetensors";

    @Test
    void aShardedRepositoryDownloadsItsIndexAndShardsAndLoads(@TempDir Path dir) throws Exception {
        Path repo = dir.resolve("repo");
        ModelCopies.copyTree(Fixtures.model("tiny-sd"), repo);
        Path unet = repo.resolve("unet");
        ModelCopies.writeFp16(unet.resolve("diffusion_pytorch_model.safetensors"), unet.resolve("diffusion_pytorch_model.fp16.safetensors"));
        ModelCopies.shard(unet, "diffusion_pytorch_model", "fp16", 2);
        ModelCopies.shard(unet, "diffusion_pytorch_model", null, 3);
        ModelCopies.shard(repo.resolve("text_encoder"), "model", null, 2);
        List<String> events = new CopyOnWriteArrayList<>();
        try (FakeHub hub = new FakeHub(repo, Map.of(), SECOND)) {
            Map<String, String> env = Map.of("HF_HUB_CACHE", dir.resolve("cache").toString(), "HF_ENDPOINT", hub.endpoint(),
                    "HF_HOME", dir.resolve("home").toString());
            DownloadListener listener = new DownloadListener() {
                @Override
                public void resuming(String path, long have, String reason) {
                    events.add("resume " + path);
                }
            };
            Path snap = HubModels.fromEnvironment(env, false, listener).snapshot(HubId.parse("tests/tiny-sd", null).orElseThrow(), null,
                    null, true, true);
            for (String f : new String[] {"unet/diffusion_pytorch_model.safetensors.index.json", SECOND,
                "unet/diffusion_pytorch_model-00001-of-00003.safetensors", "unet/diffusion_pytorch_model-00003-of-00003.safetensors",
                "text_encoder/model.safetensors.index.json", "text_encoder/model-00002-of-00002.safetensors"}) {
                assertTrue(Files.isRegularFile(snap.resolve(f)), f + " downloaded");
            }
            for (String f : new String[] {"unet/diffusion_pytorch_model.safetensors.index.fp16.json",
                "unet/diffusion_pytorch_model.fp16-00001-of-00002.safetensors"}) {
                assertFalse(Files.exists(snap.resolve(f)), f + " was downloaded");
            }
            assertTrue(events.contains("resume " + SECOND), events + "\n" + hub.log);

            ModelFolder plain = ModelFolder.open(Fixtures.model("tiny-sd"));
            ModelFolder fetched = ModelFolder.open(snap);
            for (String[] c : new String[][] {{"unet", "diffusion_pytorch_model.safetensors"}, {"text_encoder", "model.safetensors"}}) {
                try (TensorSource expected = plain.weights(c[0], c[1]); TensorSource actual = fetched.weights(c[0], c[1])) {
                    assertInstanceOf(ShardedSafetensors.class, actual);
                    assertEquals(expected.tensors().keySet(), actual.tensors().keySet());
                    for (String t : expected.tensors().keySet()) {
                        assertEquals(expected.buffer(t), actual.buffer(t), c[0] + " " + t);
                    }
                }
            }
        }
    }
}
