package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.server.EditServer;
import org.cyclediffusion.server.ServerOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cyclediffusion serve}: loads the pipeline once and serves the editing page and the HTTP
 * API until SIGTERM or Ctrl-C, which stop it gracefully (no new work, the running edit stopped at
 * its next step, the pipeline closed).
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Serve the editing page and the HTTP API (POST /api/edit, /api/jobs) for one loaded model.")
final class ServeCommand implements Callable<Integer> {
    static final String API_KEY_ENV = "CYCLEDIFFUSION_API_KEY";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    ModelOptions modelOptions;

    @Option(names = "--host", defaultValue = ServerOptions.DEFAULT_HOST, paramLabel = "ADDR",
            description = "Address to listen on (default: ${DEFAULT-VALUE}, this machine only). Any other needs an API key.")
    String host;

    @Option(names = "--port", defaultValue = "" + ServerOptions.DEFAULT_PORT, description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--max-queue", defaultValue = "" + ServerOptions.DEFAULT_MAX_QUEUE,
            description = "Edits that may wait behind the running one; more are refused with 429 (default: ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--max-upload-mb", defaultValue = "" + ServerOptions.DEFAULT_MAX_UPLOAD_MB, paramLabel = "MB",
            description = "Largest request body (default: ${DEFAULT-VALUE}).")
    int maxUploadMb;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Key every API call must send (Authorization: Bearer KEY); default: $" + API_KEY_ENV + ". Required off loopback.")
    String apiKey;

    @Option(names = "--no-safety-checker", description = "Do not run the model's safety checker (a warning is printed).")
    boolean noSafetyChecker;

    /** Counted down once the server listens; tests wait on it. */
    final CountDownLatch started = new CountDownLatch(1);
    /** Counted down to stop the server as SIGTERM would; tests use it. */
    final CountDownLatch stop = new CountDownLatch(1);
    volatile EditServer server;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (maxUploadMb <= 0) {
            throw new Errors.UsageException("--max-upload-mb " + maxUploadMb + ": expected a positive number of megabytes");
        }
        String key = apiKey != null ? apiKey : System.getenv(API_KEY_ENV);
        String model = modelOptions.source.model;
        ServerOptions options = parse(() -> ServerOptions.defaults("cyclediffusion " + Versions.version(), model)
                .withHost(host, key).withPort(port).withMaxQueue(maxQueue).withMaxUploadBytes(maxUploadMb * 1024L * 1024L)
                .withSafetyChecker(!noSafetyChecker), "--host");
        PipelineLoader.Options requested = modelOptions.options(null, !noSafetyChecker);
        ModelFolder folder = modelOptions.resolve(requested, err);
        PipelineLoader.Options loading = modelOptions.withAutoDType(requested, folder, err);
        CycleDiffusionPipeline pipeline = new PipelineLoader().load(folder, loading);
        EditServer s;
        try {
            s = EditServer.start(pipeline, options);
        } catch (RuntimeException e) {
            pipeline.close();
            throw new Errors.UsageException(e.getMessage(), e);
        }
        server = s;
        Thread hook = new Thread(() -> {
            err.println("stopping: no new edits; the running one stops at its next step");
            err.flush();
            s.close();
        }, "cyclediffusion-serve-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        if (!ServerOptions.isLoopback(options.host())) {
            err.println("warning: listening on " + options.host() + ", reachable from other machines; every API call needs the API key");
        }
        out.println("serving " + model + " (" + pipeline.models().description() + ") at " + s.url());
        out.println("press Ctrl-C to stop");
        out.flush();
        started.countDown();
        try {
            // An interrupt's note names this phase; the hook above closes the server (serve keeps no work for Interrupts to wait on).
            Interrupts.get().outcome(() -> "the server closes");
            Interrupts.get().phase("serving");
            stop.await();
        } finally {
            s.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it closes the server too (close is idempotent)
            }
        }
        return Main.OK;
    }

    private static <T> T parse(java.util.function.Supplier<T> parser, String flag) {
        try {
            return parser.get();
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage().startsWith("--") ? e.getMessage() : flag + ": " + e.getMessage());
        }
    }
}
