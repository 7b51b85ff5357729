package org.cyclediffusion.core.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Downloads from a real HTTP server on 127.0.0.1 ({@link FakeHub}) into the cache layout Python
 * shares, with the JDK's HTTP client as in production: redirects, etags, a connection dropped
 * mid-file that must resume, the token, and the hub's 401 / 403 gated / 404 answers.
 */
class HubModelsTest {
    private static final String UNET = "unet/diffusion_pytorch_model.safetensors";

    @TempDir
    Path dir;
    private FakeHub hub;
    private Map<String, String> env;
    private final List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        Map<String, byte[]> extra = new HashMap<>();
        extra.put("README.md", "# tiny".getBytes(StandardCharsets.UTF_8));
        extra.put("unet/diffusion_pytorch_model.bin", new byte[] {(byte) 0x80, 2});
        extra.put("unet/diffusion_pytorch_model.fp16.safetensors", Files.readAllBytes(Fixtures.model("tiny-sd").resolve("vae/diffusion_pytorch_model.safetensors")));
        extra.put("unet/flax_model.msgpack", new byte[] {1});
        hub = new FakeHub(Fixtures.model("tiny-sd"), extra, UNET);
        env = new HashMap<>(Map.of("HF_HUB_CACHE", dir.resolve("cache").toString(), "HF_ENDPOINT", hub.endpoint(),
                "HF_HOME", dir.resolve("home").toString()));
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    private Path snapshot(String model, boolean offline) {
        DownloadListener listener = new DownloadListener() {
            @Override
            public void resuming(String path, long have, String reason) {
                events.add("resume " + path + " at " + have);
            }

            @Override
            public void finished(String path) {
                events.add("done " + path);
            }
        };
        return HubModels.fromEnvironment(env, offline, listener).snapshot(HubId.parse(model, null).orElseThrow(), null, null, true, true);
    }

    @Test
    void downloadsWhatThePipelineNeedsIntoThePythonCacheLayout() throws Exception {
        Path snap = snapshot("tests/tiny-sd", false);
        Path repo = dir.resolve("cache/models--tests--tiny-sd");
        assertEquals(repo.resolve("snapshots/" + FakeHub.COMMIT), snap);
        assertEquals(FakeHub.COMMIT, Files.readString(repo.resolve("refs/main")));
        // The UNet: symlink into blobs/<sha256>, equal bytes, resumed after the dropped connection.
        Path unet = snap.resolve(UNET);
        assertTrue(Files.isSymbolicLink(unet), unet + " is a symlink");
        String sha = FakeHub.sha256(hub.file(UNET));
        assertEquals(Path.of("../../../blobs/" + sha), Files.readSymbolicLink(unet));
        assertArrayEquals(hub.file(UNET), Files.readAllBytes(unet));
        assertTrue(events.stream().anyMatch(e -> e.startsWith("resume " + UNET)), events + "\n" + hub.log);
        assertTrue(hub.log.stream().anyMatch(l -> l.startsWith("GET /cdn/" + sha + " bytes=")), "resumed with a Range: " + hub.log);
        // Small files: blobs named by their git sha1 etag.
        Path index = snap.resolve("model_index.json");
        assertEquals(Path.of("../../blobs/" + FakeHub.gitSha1(hub.file("model_index.json"))), Files.readSymbolicLink(index));
        // Only what the run needs: no pickles, Flax weights, README or unwanted variants; no partial file left.
        for (String skipped : new String[] {"README.md", "unet/diffusion_pytorch_model.bin", "unet/flax_model.msgpack",
            "unet/diffusion_pytorch_model.fp16.safetensors"}) {
            assertFalse(Files.exists(snap.resolve(skipped)), skipped + " was downloaded");
        }
        try (Stream<Path> blobs = Files.list(repo.resolve("blobs"))) {
            assertTrue(blobs.noneMatch(b -> b.toString().endsWith(".incomplete")));
        }
        ModelFolder folder = ModelFolder.open(snap);
        assertTrue(folder.hasWeights("text_encoder", "model.safetensors") && folder.hasFile("tokenizer", "vocab.json")
                && folder.hasFile("safety_checker", "config.json"));

        // A second run finds everything: the file list only, no file request.
        int before = hub.log.size();
        snapshot("tests/tiny-sd", false);
        assertEquals(List.of("GET /api/models/tests/tiny-sd/revision/main"), hub.log.subList(before, hub.log.size()));
        // Offline: not one request.
        before = hub.log.size();
        assertEquals(snap, snapshot("tests/tiny-sd", true));
        env.put("HF_HUB_OFFLINE", "1");
        assertEquals(snap, snapshot("tests/tiny-sd@main", false));
        assertEquals(before, hub.log.size());
    }

    @Test
    void aRenamedRepositoryIsFollowed() throws Exception {
        Path snap = snapshot("tests/old-name", false);
        assertArrayEquals(hub.file(UNET), Files.readAllBytes(snap.resolve(UNET)));
        assertTrue(snap.toString().contains("models--tests--old-name"), "cached under the name asked for, as huggingface_hub does: " + snap);
    }

    @Test
    void theTokenGoesToTheHubOnlyNeverToTheCdn() {
        HubException denied = assertThrows(HubException.class, () -> snapshot("tests/private", false));
        assertTrue(denied.getMessage().contains("tests/private") && denied.getMessage().contains("HF_TOKEN")
                && denied.getMessage().contains("(401)"), denied.getMessage());
        env.put("HF_TOKEN", FakeHub.TOKEN);
        int before = hub.log.size();
        snapshot("tests/private", false);
        assertTrue(hub.log.subList(before, hub.log.size()).stream().filter(l -> l.contains("/tests/private/")).allMatch(l -> l.endsWith(" auth")), hub.log.toString());
        assertTrue(hub.log.stream().filter(l -> l.startsWith("GET /cdn/")).noneMatch(l -> l.endsWith(" auth")), hub.log.toString());
    }

    @Test
    void theTokenFileIsReadWhenNoVariableIsSet() throws Exception {
        Files.createDirectories(dir.resolve("home"));
        Files.writeString(dir.resolve("home/token"), FakeHub.TOKEN + "\n");
        snapshot("tests/private", false);
    }

    @Test
    void gatedAndMissingRepositoriesAreOneLineErrors() {
        HubException gated = assertThrows(HubException.class, () -> snapshot("tests/gated-model", false));
        assertTrue(gated.getMessage().contains("gated") && gated.getMessage().contains("accept its conditions")
                && gated.getMessage().contains("(403)"), gated.getMessage());
        HubException missing = assertThrows(HubException.class, () -> snapshot("tests/nope", false));
        assertTrue(missing.getMessage().contains("no repository tests/nope") && missing.getMessage().contains("(404)"), missing.getMessage());
        for (HubException e : new HubException[] {gated, missing}) {
            assertEquals(-1, e.getMessage().indexOf('\n'), e.getMessage());
        }
    }

    @Test
    void offlineWithoutTheFilesNamesIdRevisionAndCache() {
        HubException e = assertThrows(HubException.class, () -> snapshot("tests/tiny-sd@v2", true));
        assertTrue(e.getMessage().contains("tests/tiny-sd@v2") && e.getMessage().contains(dir.resolve("cache").toString())
                && e.getMessage().contains("offline"), e.getMessage());
        assertEquals(0, hub.log.size(), "offline touched the network");
    }

    @Test
    void theTokenizerAloneDownloadsNoWeights() {
        Path snap = HubModels.fromEnvironment(env, false, DownloadListener.NONE).snapshot(HubId.parse("tests/tiny-sd", null).orElseThrow(),
                null, null, true, false);
        assertTrue(Files.isRegularFile(snap.resolve("tokenizer/vocab.json")));
        assertTrue(hub.log.stream().noneMatch(l -> l.contains(".safetensors") || l.contains("/cdn/")), hub.log.toString());
        // Offline, the partial snapshot serves a tokenizer but not a run that needs the networks.
        HubModels offline = HubModels.fromEnvironment(env, true, DownloadListener.NONE);
        offline.snapshot(HubId.parse("tests/tiny-sd", null).orElseThrow(), null, null, true, false);
        HubException e = assertThrows(HubException.class,
                () -> offline.snapshot(HubId.parse("tests/tiny-sd", null).orElseThrow(), null, null, true, true));
        assertTrue(e.getMessage().contains("tests/tiny-sd@main lacks [") && e.getMessage().contains("unet/")
                && e.getMessage().contains("offline"), e.getMessage());
    }

    @Test
    void cacheLocationFollowsTheEnvironment() {
        assertEquals(Path.of("/x/hub"), HubCache.fromEnvironment(Map.of("HF_HOME", "/x")).root());
        assertEquals(Path.of("/y"), HubCache.fromEnvironment(Map.of("HF_HOME", "/x", "HF_HUB_CACHE", "/y")).root());
        assertEquals(Path.of(System.getProperty("user.home"), ".cache/huggingface/hub"), HubCache.fromEnvironment(Map.of()).root());
    }
}
