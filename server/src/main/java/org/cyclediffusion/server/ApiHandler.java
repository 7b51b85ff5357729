package org.cyclediffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.MultiPart;
import org.eclipse.jetty.http.MultiPartFormData;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;

/**
 * The HTTP API and the page. Every refusal is {@code {"error": ..., "field": ...}} with its status;
 * nothing here ever answers with a stack trace (those go to the server's log, for 500s only).
 */
final class ApiHandler extends Handler.Abstract {
    private static final System.Logger LOG = System.getLogger(ApiHandler.class.getName());
    static final ObjectMapper JSON = new ObjectMapper();
    /** SSE comment lines keep proxies and idle timeouts from closing a quiet stream, and find clients that left. */
    private static final long KEEPALIVE_SECONDS = 10;

    private final EditQueue queue;
    private final ServerOptions options;
    private final ObjectNode modelInfo;
    private final StaticFiles page = new StaticFiles();
    private final byte[] apiKey;

    ApiHandler(EditQueue queue, ServerOptions options, ObjectNode modelInfo) {
        this.queue = queue;
        this.options = options;
        this.modelInfo = modelInfo;
        this.apiKey = options.apiKey() == null ? null : options.apiKey().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        String path = Request.getPathInContext(request);
        String method = request.getMethod();
        try {
            if (!path.startsWith("/api/")) {
                if (!method.equals("GET") && !method.equals("HEAD")) {
                    throw methodNotAllowed("GET");
                }
                if (!page.serve(path, response, callback)) {
                    throw new ApiException(404, null, "no page at " + path);
                }
                return true;
            }
            if (path.equals("/api/health")) {
                requireMethod(method, "GET");
                ObjectNode h = JSON.createObjectNode();
                h.put("status", "ok");
                h.put("busy", queue.busy());
                h.put("queued", queue.waitingCount());
                h.put("edits_done", queue.editsDone());
                h.put("max_queue", options.maxQueue());
                h.put("api_key_required", apiKey != null);
                json(response, callback, 200, h);
                return true;
            }
            authorize(request);
            if (path.equals("/api/model")) {
                requireMethod(method, "GET");
                json(response, callback, 200, modelInfo);
            } else if (path.equals("/api/edit")) {
                requireMethod(method, "POST");
                edit(request, response, callback);
            } else if (path.equals("/api/jobs")) {
                requireMethod(method, "POST");
                Job job = queue.submit(parse(request), true);
                ObjectNode body = JSON.createObjectNode();
                body.put("id", job.id());
                body.put("state", job.state().json());
                body.put("seed", job.spec().seed());
                response.getHeaders().put(HttpHeader.LOCATION, "/api/jobs/" + job.id());
                json(response, callback, 202, body);
            } else if (path.startsWith("/api/jobs/")) {
                jobs(path.substring("/api/jobs/".length()), method, response, callback);
            } else {
                throw new ApiException(404, null, "no API endpoint at " + path
                        + "; there are /api/edit, /api/jobs, /api/jobs/{id}, /api/jobs/{id}/events, /api/health and /api/model");
            }
        } catch (ApiException e) {
            refuse(request, response, callback, e);
        } catch (EditQueue.QueueFullException e) {
            response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(e.retryAfter));
            error(response, callback, new ApiException(429, null, "the server is busy: " + options.maxQueue()
                    + " edits are already waiting; retry after " + e.retryAfter + " s"));
        } catch (RuntimeException | IOException e) {
            LOG.log(System.Logger.Level.ERROR, method + " " + path + " failed", e);
            error(response, callback, new ApiException(500, null, "internal error: " + EditQueue.oneLine(e)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            error(response, callback, new ApiException(503, null, "the server is shutting down"));
        }
        return true;
    }

    private void edit(Request request, Response response, Callback callback) throws InterruptedException {
        Job job = queue.submit(parse(request), false);
        // An edit may take minutes without any I/O on its connection: not an idle connection.
        request.addIdleTimeoutListener(t -> false);
        request.addFailureListener(t -> queue.cancel(job));
        PeerProbe peer = new PeerProbe(request);
        while (!job.await(250, TimeUnit.MILLISECONDS)) {
            if (peer.gone()) {
                // Nobody will read the answer: the edit is not worth finishing (or starting).
                queue.cancel(job);
            }
        }
        if (peer.sentMore()) {
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
        }
        switch (job.state()) {
            case DONE -> json(response, callback, 200, job.result());
            case FAILED -> throw job.error();
            default -> throw new ApiException(503, null, peer.gone() ? "the edit was cancelled: the client went away"
                    : "the edit was cancelled: the server is shutting down");
        }
    }

    private void jobs(String rest, String method, Response response, Callback callback) throws IOException, InterruptedException {
        boolean events = rest.endsWith("/events");
        String id = events ? rest.substring(0, rest.length() - "/events".length()) : rest;
        Job job = queue.find(id);
        if (job == null) {
            throw new ApiException(404, null, "no job " + clip(id) + " (unknown, or finished long ago and forgotten)");
        }
        if (events) {
            requireMethod(method, "GET");
            events(job, response, callback);
            return;
        }
        switch (method) {
            case "GET" -> json(response, callback, 200, job.snapshot(true));
            case "DELETE" -> {
                queue.cancel(job);
                // The running edit stops at its next step; the answer says what the job is now.
                json(response, callback, 200, job.snapshot(false));
            }
            default -> throw methodNotAllowed("GET, DELETE");
        }
    }

    /** Server-Sent Events: the current state first, then one event per step, then done/failed/cancelled. */
    private void events(Job job, Response response, Callback callback) throws IOException, InterruptedException {
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        LinkedBlockingQueue<Job.JobEvent> pending = new LinkedBlockingQueue<>();
        Consumer<Job.JobEvent> subscriber = pending::add;
        Job.JobEvent event = job.subscribe(subscriber);
        try {
            while (true) {
                if (event == null) {
                    send(response, ": keepalive\n\n");
                } else {
                    send(response, "event: " + event.name() + "\ndata: " + JSON.writeValueAsString(event.data()) + "\n\n");
                    if (event.terminal()) {
                        break;
                    }
                }
                event = pending.poll(KEEPALIVE_SECONDS, TimeUnit.SECONDS);
            }
            response.write(true, ByteBuffer.allocate(0), callback);
        } catch (IOException e) {
            callback.failed(e); // the client went away; the job goes on
        } finally {
            job.unsubscribe(subscriber);
        }
    }

    private static void send(Response response, String text) throws IOException {
        try (Blocker.Callback b = Blocker.callback()) {
            response.write(false, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), b);
            b.block();
        }
    }

    /** The multipart form, held in memory (never a temporary file, never a client-chosen name). */
    private EditSpec parse(Request request) throws InterruptedException {
        String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
        if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("multipart/form-data")) {
            throw new ApiException(415, null, "Content-Type " + (type == null ? "(none)" : clip(type))
                    + ": expected multipart/form-data (fields image, prompt, source_prompt, ...)");
        }
        long length = request.getLength();
        if (length > options.maxUploadBytes()) {
            throw tooLarge(length);
        }
        String boundary = MultiPart.extractBoundary(type);
        if (boundary == null || boundary.isEmpty()) {
            throw new ApiException(400, null, "malformed multipart body: the Content-Type has no boundary");
        }
        MultiPartFormData.Parser parser = new MultiPartFormData.Parser(boundary);
        parser.setMaxLength(options.maxUploadBytes());
        parser.setMaxFileSize(options.maxUploadBytes());
        parser.setMaxMemoryFileSize(options.maxUploadBytes());
        parser.setMaxParts(64);
        parser.setUseFilesForPartsWithoutFileName(false);
        MultiPartFormData.Parts parts;
        try {
            parts = parser.parse(request).get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            String m = String.valueOf(cause.getMessage()).toLowerCase(Locale.ROOT);
            HttpException http = cause instanceof HttpException h ? h : null;
            if ((http != null && http.getCode() == 413) || m.contains("max length") || m.contains("max file size") || m.contains("exceeds")) {
                throw tooLarge(-1);
            }
            throw new ApiException(400, null, "malformed multipart body: " + clip(EditQueue.oneLine(cause)));
        }
        try {
            EditForm form = new EditForm(options);
            for (MultiPart.Part part : parts) {
                byte[] data = bytes(part);
                if (part.getFileName() != null) {
                    form.file(part.getName(), part.getFileName(), data);
                } else {
                    form.field(part.getName(), new String(data, StandardCharsets.UTF_8));
                }
            }
            EditSpec spec = form.build();
            // The epilogue after the closing boundary is still unread: read it, so that what comes
            // next on this connection is the client's, not the body's (see PeerProbe).
            Content.Source.consumeAll(request);
            return spec;
        } catch (IOException e) {
            throw new ApiException(400, null, "malformed multipart body: " + clip(EditQueue.oneLine(e)));
        } finally {
            parts.close();
        }
    }

    private static byte[] bytes(MultiPart.Part part) {
        try {
            ByteBuffer b = Content.Source.asByteBuffer(part.getContentSource());
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (IOException e) {
            throw new ApiException(400, part.getName(), "malformed multipart body: cannot read part " + part.getName());
        }
    }

    private ApiException tooLarge(long length) {
        return new ApiException(413, null, "request body " + (length >= 0 ? "of " + length + " bytes " : "")
                + "is larger than this server's limit of " + options.maxUploadBytes() + " bytes (--max-upload-mb)");
    }

    /** {@code Authorization: Bearer KEY} or {@code X-API-Key: KEY}, compared in constant time. */
    private void authorize(Request request) {
        if (apiKey == null) {
            return;
        }
        String given = request.getHeaders().get("X-API-Key");
        String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (given == null && auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            given = auth.substring(7).trim();
        }
        if (given == null || !MessageDigest.isEqual(apiKey, given.getBytes(StandardCharsets.UTF_8))) {
            throw new ApiException(401, null, given == null ? "this server needs an API key: send Authorization: Bearer KEY or X-API-Key: KEY"
                    : "wrong API key");
        }
    }

    private static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed) && !(allowed.equals("GET") && method.equals("HEAD"))) {
            throw methodNotAllowed(allowed);
        }
    }

    private static ApiException methodNotAllowed(String allowed) {
        return new ApiException(405, null, "method not allowed here; use " + allowed);
    }

    static void json(Response response, Callback callback, int status, JsonNode body) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        response.write(true, ByteBuffer.wrap(bytes), callback);
    }

    /**
     * Answers a refusal once what is left of the request's body has been read and dropped, up to a
     * bound. A refusal often comes before the body is read (a Content-Length over the limit, a
     * missing key, a wrong Content-Type); closing a connection while the client's bytes are still
     * arriving makes the kernel reset it, and the client, still sending, then reports "connection
     * reset" (or no answer at all) instead of the status and message that say why: the lingering
     * close nginx and Apache do. Past the bound the connection is closed anyway: a client sending
     * more than four times the upload limit, or for more than 30 s, is not owed the explanation.
     */
    private void refuse(Request request, Response response, Callback callback, ApiException e) {
        if (!response.isCommitted() && !drainBody(request)) {
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
        }
        error(response, callback, e);
    }

    /** Reads the rest of the body and drops it; false if it was not read to its end within the bound. */
    private boolean drainBody(Request request) {
        long limit = 4L * options.maxUploadBytes();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        byte[] sink = new byte[64 * 1024];
        long total = 0;
        try {
            java.io.InputStream in = Content.Source.asInputStream(request);
            for (int n; (n = in.read(sink)) >= 0; ) {
                total += n;
                if (total > limit || System.nanoTime() > deadline) {
                    return false;
                }
            }
            return true;
        } catch (IOException | RuntimeException x) {
            return false;
        }
    }

    static void error(Response response, Callback callback, ApiException e) {
        if (response.isCommitted()) {
            callback.failed(e);
            return;
        }
        ObjectNode body = JSON.createObjectNode();
        body.put("error", e.getMessage());
        body.put("field", e.field());
        if (e.status() == 405) {
            response.getHeaders().put(HttpHeader.ALLOW, e.getMessage().substring(e.getMessage().indexOf("use ") + 4));
        }
        json(response, callback, e.status(), body);
    }

    private static String clip(String s) {
        String v = s.length() > 80 ? s.substring(0, 80) + "..." : s;
        return v.replaceAll("\\p{Cntrl}", "?");
    }
}
