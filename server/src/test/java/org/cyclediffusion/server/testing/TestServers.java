package org.cyclediffusion.server.testing;

import java.nio.file.Path;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.server.EditServer;
import org.cyclediffusion.server.ServerOptions;

/** Servers on a free loopback port over the tiny ONNX model (real ONNX Runtime, real safety checker). */
public final class TestServers {
    public static final String SOFTWARE = "cyclediffusion test";

    private TestServers() {
    }

    public static Path model() {
        return Fixtures.model("tiny-sd-onnx");
    }

    public static ServerOptions options() {
        return ServerOptions.defaults(SOFTWARE, model().toString()).withPort(0);
    }

    public static EditServer start(ServerOptions options) {
        CycleDiffusionPipeline pipeline = new PipelineLoader().load(PipelineLoader.Options.of(model()).withSafetyChecker(options.safetyChecker()));
        return EditServer.start(pipeline, options);
    }
}
