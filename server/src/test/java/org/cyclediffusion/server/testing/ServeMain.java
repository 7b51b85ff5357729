package org.cyclediffusion.server.testing;

import java.nio.file.Path;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.server.EditServer;
import org.cyclediffusion.server.ServerOptions;

/**
 * A server in a process of its own, for measurements that must not see the test JVM's memory:
 * {@code ServeMain MODEL} prints {@code PORT n} and serves until its standard input closes.
 */
public final class ServeMain {
    private ServeMain() {
    }

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        CycleDiffusionPipeline pipeline = new PipelineLoader().load(PipelineLoader.Options.of(model));
        try (EditServer server = EditServer.start(pipeline, ServerOptions.defaults(TestServers.SOFTWARE, model.toString()).withPort(0))) {
            System.out.println("PORT " + server.port());
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the parent closes our standard input (or dies)
            }
        }
    }
}
