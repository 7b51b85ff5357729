package org.cyclediffusion.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * {@code cyclediffusion serve}: one loaded pipeline behind an embedded Jetty, the editing page at
 * {@code /} and the API under {@code /api/}. Closing stops taking connections, cancels waiting
 * edits, stops the running one at its next step, then closes the pipeline (native memory).
 */
public final class EditServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(EditServer.class.getName());
    /** Jetty's start-up chatter stays out of the terminal; its warnings do not. Held so the setting is not collected. */
    private static final java.util.logging.Logger JETTY_LOG = java.util.logging.Logger.getLogger("org.eclipse.jetty");

    static {
        JETTY_LOG.setLevel(java.util.logging.Level.WARNING);
    }

    private final CycleDiffusionPipeline pipeline;
    private final EditQueue queue;
    private final Server jetty;
    private final ServerConnector connector;
    private boolean closed;

    private EditServer(CycleDiffusionPipeline pipeline, ServerOptions options) {
        this.pipeline = pipeline;
        this.queue = new EditQueue(pipeline, options);
        QueuedThreadPool threads = new QueuedThreadPool(64, 4);
        threads.setName("cyclediffusion-http");
        threads.setDaemon(true);
        jetty = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        // Jetty caches header lines per connection and by default matches the cache ignoring case,
        // values included: "Authorization: Bearer s3cret" then arrived as the "Bearer s3creT" sent
        // before it on the same connection (ApiTest found it). A key must be compared as sent.
        http.setHeaderCacheCaseSensitive(true);
        connector = new ServerConnector(jetty, 1, 1, new HttpConnectionFactory(http));
        connector.setHost(options.host());
        connector.setPort(options.port());
        jetty.addConnector(connector);
        // Graceful: on stop, requests in flight (answers of cancelled edits, event streams ending) finish first.
        jetty.setHandler(new GracefulHandler(new ApiHandler(queue, options, modelInfo(pipeline, options))));
        jetty.setErrorHandler(new JsonErrors());
        jetty.setStopTimeout(10_000);
        jetty.setStopAtShutdown(false); // the caller decides (serve installs its own hook, in order)
    }

    /**
     * Starts serving {@code pipeline}, which the server owns from now on and closes in {@link #close}.
     *
     * @throws IllegalStateException when the address cannot be bound (port in use)
     */
    public static EditServer start(CycleDiffusionPipeline pipeline, ServerOptions options) {
        EditServer s = new EditServer(pipeline, options);
        try {
            s.jetty.start();
        } catch (Exception e) {
            s.close();
            Throwable c = e;
            while (c.getCause() != null && !(c instanceof java.net.BindException)) {
                c = c.getCause();
            }
            throw new IllegalStateException("cannot listen on " + options.host() + ":" + options.port() + ": " + EditQueue.oneLine(c)
                    + (c instanceof java.net.BindException ? " (another program uses this port? choose one with --port)" : ""), e);
        }
        return s;
    }

    /** The bound port (the free one chosen when the options said 0). */
    public int port() {
        return connector.getLocalPort();
    }

    /** {@code http://host:port/} as a browser would open it. */
    public String url() {
        String host = connector.getHost();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return "http://" + host + ":" + port() + "/";
    }

    static ObjectNode modelInfo(CycleDiffusionPipeline pipeline, ServerOptions options) {
        ObjectNode m = ApiHandler.JSON.createObjectNode();
        String description = pipeline.models().description();
        m.put("model", options.modelName());
        m.put("description", description);
        String[] words = description.split(" ");
        if (words.length == 3) {
            m.put("backend", words[0]);
            m.put("device", words[1]);
            m.put("dtype", words[2]);
        }
        m.put("latent_channels", pipeline.models().unet().inChannels());
        m.put("vae_scale_factor", pipeline.models().vae().scaleFactor());
        m.put("image_sizes", "width and height are floored to multiples of " + pipeline.models().vae().scaleFactor()
                + "; an exported (ONNX) UNet may take only the sizes it was traced for, and the error says which");
        m.put("safety_checker", pipeline.safetyChecker().isPresent());
        ObjectNode limits = m.putObject("limits");
        limits.put("max_upload_bytes", options.maxUploadBytes());
        limits.put("max_image_pixels", options.maxImagePixels());
        limits.put("max_prompt_chars", options.maxPromptChars());
        limits.put("max_queue", options.maxQueue());
        limits.put("max_output_images", EditForm.MAX_OUTPUT_IMAGES);
        ObjectNode d = m.putObject("defaults");
        d.put("strength", EditRequest.DEFAULT_STRENGTH);
        d.put("num_inference_steps", EditRequest.DEFAULT_STEPS);
        d.put("guidance_scale", EditRequest.DEFAULT_GUIDANCE_SCALE);
        d.put("source_guidance_scale", EditRequest.DEFAULT_SOURCE_GUIDANCE_SCALE);
        d.put("eta", EditRequest.DEFAULT_ETA);
        d.put("num_images_per_prompt", 1);
        return m;
    }

    /** Stops accepting, cancels or stops the edits, waits for the worker, closes the pipeline. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            connector.close(); // no new connections from here on
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "closing the listener failed", e);
        }
        queue.close(); // waiting edits cancelled, the running one stops at its next step
        try {
            jetty.stop(); // open requests (answers, event streams) end: their jobs are terminal now
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "stopping the HTTP server failed", e);
        }
        if (queue.workerAlive()) {
            LOG.log(System.Logger.Level.ERROR, "an edit is still running; the pipeline is left open rather than freed under it");
            return;
        }
        pipeline.close();
    }

    /** Jetty's own refusals (a malformed request line, a header too large) in the API's JSON shape. */
    private static final class JsonErrors extends ErrorHandler {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            int status = response.getStatus() > 0 ? response.getStatus() : 500;
            Object message = request.getAttribute(ERROR_MESSAGE);
            String text = message == null ? "HTTP " + status : message.toString();
            String body = "{\"error\":" + quote(text) + ",\"field\":null}";
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
            // After refusing a request itself (an ambiguous path, for one) Jetty closes the connection without
            // saying so, and a client that sends its next request on it gets no answer at all: say it.
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
            return true;
        }

        @Override
        public ByteBuffer badMessageError(int status, String reason, org.eclipse.jetty.http.HttpFields.Mutable fields) {
            fields.put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
            fields.put(HttpHeader.CONNECTION, "close"); // as handle(): the connection ends here
            String text = reason == null ? "bad request (HTTP " + status + ")" : reason;
            return ByteBuffer.wrap(("{\"error\":" + quote(text) + ",\"field\":null}").getBytes(StandardCharsets.UTF_8));
        }

        private static String quote(String s) {
            return ApiHandler.JSON.getNodeFactory().textNode(s).toString();
        }
    }
}
