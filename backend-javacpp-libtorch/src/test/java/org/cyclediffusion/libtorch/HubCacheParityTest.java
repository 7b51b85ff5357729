package org.cyclediffusion.libtorch;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Map;
import org.cyclediffusion.core.hub.DownloadListener;
import org.cyclediffusion.core.model.ModelResolver;
import org.cyclediffusion.core.model.ModelSpec;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.HubCacheFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every visible golden through hub ids ({@code tests/tiny-sd}, {@code tests/tiny-sd2@main})
 * resolved offline from a Hugging Face cache the test lays out (blobs, snapshot symlinks, refs),
 * on LibTorch CPU fp32, with the tolerances of {@link TorchPipelineParityTest}.
 */
class HubCacheParityTest {
    private static final String COMMIT = "fedcba9876543210fedcba9876543210fedcba98";
    @TempDir
    static Path cache;
    private static CycleDiffusionPipeline sd;
    private static CycleDiffusionPipeline sd2;

    @BeforeAll
    static void load() {
        HubCacheFixture.build(cache, "tests/tiny-sd", COMMIT, Fixtures.model("tiny-sd"));
        HubCacheFixture.build(cache, "tests/tiny-sd2", COMMIT, Fixtures.model("tiny-sd2"));
        sd = open("tests/tiny-sd");
        sd2 = open("tests/tiny-sd2@main");
    }

    private static CycleDiffusionPipeline open(String id) {
        // HF_ENDPOINT points nowhere: offline must not need it.
        ModelResolver resolver = new ModelResolver(Map.of("HF_HUB_CACHE", cache.toString(), "HF_HUB_OFFLINE", "1",
                "HF_ENDPOINT", "http://127.0.0.1:9"), DownloadListener.NONE);
        return new PipelineLoader().load(resolver.resolve(ModelSpec.of(id), "libtorch", false),
                PipelineLoader.Options.of(Path.of(id)).withBackend("libtorch").withSafetyChecker(false));
    }

    @AfterAll
    static void close() {
        for (CycleDiffusionPipeline p : new CycleDiffusionPipeline[] {sd, sd2}) {
            if (p != null) {
                p.close();
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.cyclediffusion.libtorch.SingleFileParityTest#cases")
    void matchesDiffusersThroughTheHubId(String id) {
        JsonNode c = Golden.caseJson(id);
        TorchPipelineParityTest.assertMatchesDiffusers(id, c, c.get("model").asText().equals("tiny-sd2") ? sd2 : sd);
    }
}
