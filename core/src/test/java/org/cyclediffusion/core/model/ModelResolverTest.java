package org.cyclediffusion.core.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.hub.DownloadListener;
import org.cyclediffusion.core.hub.HubException;
import org.cyclediffusion.core.spi.PredictionType;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.HubCacheFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The three forms of {@code --model}, which one wins, and the flags that do not apply to a form. */
class ModelResolverTest {
    private static final String COMMIT = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    private static ModelResolver offline(Path cache) {
        return new ModelResolver(Map.of("HF_HUB_CACHE", cache.toString(), "HF_HUB_OFFLINE", "1"), DownloadListener.NONE);
    }

    private static ModelSpec spec(String model, String revision, Path config, String variant, boolean ema, PredictionType p) {
        return new ModelSpec(model, revision, false, config, variant, ema, p);
    }

    @Test
    void anExistingFolderWinsOverAHubIdOfTheSameName(@TempDir Path dir) throws Exception {
        Path cwdLike = dir.resolve("tests/tiny-sd");
        Files.createDirectories(cwdLike.getParent());
        Files.createSymbolicLink(cwdLike, Fixtures.model("tiny-sd"));
        HubCacheFixture.build(dir.resolve("cache"), "tests/tiny-sd", COMMIT, Fixtures.model("tiny-sd2"));
        ModelFolder folder = offline(dir.resolve("cache")).resolve(ModelSpec.of(cwdLike.toString()), null, true);
        assertEquals(cwdLike.toAbsolutePath().normalize(), folder.root());
        ModelFolder hub = offline(dir.resolve("cache")).resolve(ModelSpec.of("tests/tiny-sd@main"), null, true);
        assertTrue(hub.root().toString().contains("models--tests--tiny-sd/snapshots/" + COMMIT), hub.root().toString());
        ModelFolder byHash = offline(dir.resolve("cache")).resolve(spec("tests/tiny-sd", COMMIT, null, null, false, null), null, true);
        assertEquals(hub.root(), byHash.root());
    }

    @Test
    void aSingleFileWithItsConfigAndPredictionType() {
        Path file = Fixtures.root().resolve("single-file/tiny-sd2.safetensors");
        ModelFolder f = new ModelResolver().resolve(spec(file.toString(), null, Fixtures.model("tiny-sd2"), null, false,
                PredictionType.EPSILON), null, true);
        assertTrue(f.checkpoint().isPresent());
        assertEquals("epsilon", f.config("scheduler", "scheduler_config.json").getString("prediction_type", ""));
        // --prediction-type also applies to folders.
        ModelFolder folder = new ModelResolver().resolve(spec(Fixtures.model("tiny-sd").toString(), null, null, null, false,
                PredictionType.V_PREDICTION), null, true);
        assertEquals("v_prediction", folder.config("scheduler", "scheduler_config.json").getString("prediction_type", ""));
    }

    @Test
    void flagsThatDoNotApplyAreErrors() {
        String folder = Fixtures.model("tiny-sd").toString();
        String file = Fixtures.root().resolve("single-file/tiny-sd.safetensors").toString();
        ModelResolver r = new ModelResolver();
        assertMessage(() -> r.resolve(spec(folder, null, Fixtures.model("tiny-sd"), null, false, null), null, true), "--config applies to");
        assertMessage(() -> r.resolve(spec(folder, null, null, null, true, null), null, true), "--ema applies to");
        assertMessage(() -> r.resolve(spec(folder, "main", null, null, false, null), null, true), "--revision applies to hub ids");
        assertMessage(() -> r.resolve(spec(file, null, null, "fp16", false, null), null, true), "--variant applies to");
        assertMessage(() -> r.resolve(spec("tests/x@v1", "v2", null, null, false, null), null, true), "give one");
    }

    @Test
    void neitherPathNorHubIdListsTheForms() {
        assertMessage(() -> new ModelResolver().resolve(ModelSpec.of("no/such/thing"), null, true), "hub id");
        assertMessage(() -> new ModelResolver().resolve(ModelSpec.of("missing.safetensors"), null, true), "missing.safetensors: file not found");
        assertMessage(() -> new ModelResolver().resolve(ModelSpec.of("missing.ckpt"), null, true), "arbitrary code");
    }

    @Test
    void aHubIdMissingFromTheCacheOfflineIsNamed(@TempDir Path dir) {
        HubException e = assertThrows(HubException.class, () -> offline(dir).resolve(ModelSpec.of("org/absent"), null, true));
        assertTrue(e.getMessage().contains("org/absent@main") && e.getMessage().contains(dir.toString()), e.getMessage());
    }

    private static void assertMessage(org.junit.jupiter.api.function.Executable run, String expected) {
        RuntimeException e = assertThrows(RuntimeException.class, run);
        assertTrue(e instanceof ConfigException || e instanceof IllegalArgumentException, e.toString());
        assertTrue(e.getMessage().contains(expected) && e.getMessage().indexOf('\n') < 0, e.getMessage());
    }
}
