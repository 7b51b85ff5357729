package org.cyclediffusion.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Arrays;
import java.util.zip.CRC32;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.server.testing.Multipart;
import org.cyclediffusion.server.testing.TestServers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The "Load and faults" list: each bad request gets its status and a message that says
 * what is wrong, and after each one the server still edits.
 */
class FaultsTest {
    static EditServer server;
    static String base;
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.options());
        base = server.url();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** After every fault: the next edit works. */
    @AfterEach
    void theNextRequestWorks() throws Exception {
        HttpResponse<String> r = ApiTest.form(11, 2).post(CLIENT, base, "api/edit");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(1, ApiTest.JSON.readTree(r.body()).get("images").size());
    }

    static Multipart valid() throws Exception {
        return new Multipart().field("source_prompt", "a horse").field("prompt", "an elephant").field("num_inference_steps", 2);
    }

    static void assertRefused(HttpResponse<String> r, int status, String field, String message) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), r.headers().toString());
        JsonNode body = ApiTest.JSON.readTree(r.body());
        assertTrue(body.get("error").asText().contains(message), "error: " + body.get("error") + "\nexpected to contain: " + message);
        assertEquals(field, body.get("field").isNull() ? null : body.get("field").asText());
        assertFalse(r.body().contains("\tat ") || r.body().contains("Exception"), "a stack trace or exception name: " + r.body());
    }

    @Test
    void aMalformedMultipartBodyIs400() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "api/edit")).header("Content-Type", "multipart/form-data; boundary=XYZ")
                .POST(HttpRequest.BodyPublishers.ofString("--XYZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nabc")).build();
        assertRefused(CLIENT.send(req, HttpResponse.BodyHandlers.ofString()), 400, null, "malformed multipart body");
        req = HttpRequest.newBuilder(URI.create(base + "api/edit")).header("Content-Type", "multipart/form-data")
                .POST(HttpRequest.BodyPublishers.ofString("x")).build();
        assertRefused(CLIENT.send(req, HttpResponse.BodyHandlers.ofString()), 400, null, "has no boundary");
    }

    @Test
    void aTruncatedPngIs422() throws Exception {
        byte[] png = Files.readAllBytes(Fixtures.image("img_a_64x64.png"));
        HttpResponse<String> r = valid().file("image", "cut.png", Arrays.copyOf(png, png.length / 2)).post(CLIENT, base, "api/edit");
        assertRefused(r, 422, "image", "cannot decode image \"cut.png\"");
    }

    @Test
    void anEmptyUploadIs422() throws Exception {
        assertRefused(valid().file("image", "empty.png", new byte[0]).post(CLIENT, base, "api/edit"), 422, "image",
                "image \"empty.png\" is empty (0 bytes)");
    }

    @Test
    void somethingThatIsNotAnImageIs415() throws Exception {
        assertRefused(valid().file("image", "notes.txt", "hello".getBytes(StandardCharsets.UTF_8)).post(CLIENT, base, "api/edit"), 415,
                "image", "image \"notes.txt\" is not a PNG, JPEG or WebP image");
    }

    @Test
    void anUnknownFieldIs400AndNamesIt() throws Exception {
        assertRefused(valid().file("image", Fixtures.image("img_a_64x64.png")).field("negative_prompt", "x").post(CLIENT, base, "api/edit"),
                400, "negative_prompt", "unknown field \"negative_prompt\"; expected [clip_skip, eta,");
    }

    @Test
    void aWrongTypeIs422AndNamesTheField() throws Exception {
        assertRefused(valid().file("image", Fixtures.image("img_a_64x64.png")).field("strength", "abc").post(CLIENT, base, "api/edit"),
                422, "strength", "strength = \"abc\": expected a number");
        assertRefused(new Multipart().file("image", Fixtures.image("img_a_64x64.png")).field("source_prompt", "a").field("prompt", "b")
                .field("num_inference_steps", "2.5").post(CLIENT, base, "api/edit"), 422, "num_inference_steps", "expected an integer");
    }

    @Test
    void aValueThePipelineRejectsIs422AndNamesTheField() throws Exception {
        assertRefused(valid().file("image", Fixtures.image("img_a_64x64.png")).field("eta", "0").post(CLIENT, base, "api/edit"),
                422, "eta", "eta = 0.0: CycleDiffusion needs a stochastic sampler");
        assertRefused(valid().file("image", Fixtures.image("img_a_64x64.png")).field("strength", "1.5").post(CLIENT, base, "api/edit"),
                422, "strength", "strength = 1.5: expected a value in [0, 1]");
    }

    @Test
    void missingFieldsAre400() throws Exception {
        assertRefused(valid().post(CLIENT, base, "api/edit"), 400, "image", "missing field image");
        assertRefused(new Multipart().file("image", Fixtures.image("img_a_64x64.png")).field("prompt", "b").post(CLIENT, base, "api/edit"),
                400, "source_prompt", "missing field source_prompt");
    }

    @Test
    void aFiftyMegabyteBodyIs413() throws Exception {
        byte[] big = new byte[50 * 1024 * 1024];
        HttpResponse<String> r = valid().file("image", "big.png", big).post(CLIENT, base, "api/edit");
        assertRefused(r, 413, null, "is larger than this server's limit of 20971520 bytes (--max-upload-mb)");
    }

    /**
     * The refusal comes from the Content-Length, before the body is read; the server then reads and
     * drops the body, so the client (still sending) gets the 413 instead of a reset connection, and
     * the connection stays usable: a request pipelined behind the body is answered on it.
     */
    @Test
    void anOverLimitBodyIsDrainedSoTheClientGetsThe413AndTheConnectionLives() throws Exception {
        java.net.URI uri = URI.create(base);
        int bodyLength = 21 * 1024 * 1024; // over the 20 MiB limit, under the drain bound
        try (java.net.Socket socket = new java.net.Socket(uri.getHost(), uri.getPort())) {
            socket.setSoTimeout(60_000);
            java.io.OutputStream out = socket.getOutputStream();
            String head = "POST /api/edit HTTP/1.1\r\nHost: " + uri.getHost() + "\r\nContent-Type: multipart/form-data; boundary=XYZ\r\n"
                    + "Content-Length: " + bodyLength + "\r\n\r\n";
            Thread sender = new Thread(() -> {
                try {
                    out.write(head.getBytes(StandardCharsets.US_ASCII));
                    byte[] chunk = new byte[1 << 20];
                    for (int sent = 0; sent < bodyLength; sent += chunk.length) {
                        out.write(chunk, 0, Math.min(chunk.length, bodyLength - sent));
                    }
                    out.write(("GET /api/health HTTP/1.1\r\nHost: " + uri.getHost() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (java.io.IOException e) {
                    // the read side below reports what the server did
                }
            }, "over-limit-sender");
            sender.start();
            java.io.InputStream in = socket.getInputStream();
            String first = readResponse(in);
            assertTrue(first.startsWith("HTTP/1.1 413 "), first);
            assertTrue(first.contains("is larger than this server's limit of 20971520 bytes"), first);
            assertFalse(first.toLowerCase(java.util.Locale.ROOT).contains("connection: close"), first);
            String second = readResponse(in);
            assertTrue(second.startsWith("HTTP/1.1 200 ") && second.contains("\"status\":\"ok\""), second);
            sender.join(60_000);
        }
    }

    /** One HTTP/1.1 response with a Content-Length body, read off the socket: status line, headers and body. */
    private static String readResponse(java.io.InputStream in) throws java.io.IOException {
        java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new java.io.EOFException("connection closed after: " + head);
            }
            head.write(b);
            byte[] h = head.toByteArray();
            int n = h.length;
            if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
                break;
            }
        }
        String headers = head.toString(StandardCharsets.US_ASCII);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length:\\s*(\\d+)").matcher(headers);
        assertTrue(m.find(), headers);
        byte[] body = in.readNBytes(Integer.parseInt(m.group(1)));
        return headers + new String(body, StandardCharsets.UTF_8);
    }

    @Test
    void aChunkedBodyOverTheLimitIs413() throws Exception {
        // No Content-Length to check up front: the parser counts as it reads.
        Multipart m = valid().file("image", "big.png", new byte[30 * 1024 * 1024]);
        byte[] body = m.bytes();
        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "api/edit")).header("Content-Type", m.contentType())
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(body))).build();
        assertRefused(CLIENT.send(req, HttpResponse.BodyHandlers.ofString()), 413, null,
                "request body is larger than this server's limit of 20971520 bytes");
    }

    @Test
    void aHugeImageIsRefusedFromItsHeaderBeforeDecoding() throws Exception {
        // The fixture's IHDR rewritten to claim 20000 x 20000; its pixel data stays 64 x 64 (never read).
        byte[] png = Files.readAllBytes(Fixtures.image("img_a_64x64.png"));
        ByteBuffer b = ByteBuffer.wrap(png);
        b.putInt(16, 20000).putInt(20, 20000);
        CRC32 crc = new CRC32();
        crc.update(png, 12, 17);
        b.putInt(29, (int) crc.getValue());
        assertRefused(valid().file("image", "bomb.png", png).post(CLIENT, base, "api/edit"), 413, "image",
                "image \"bomb.png\" is 20000x20000 = 400000000 pixels, more than the limit of 16777216");
    }

    @Test
    void aTooLongPromptIs422() throws Exception {
        assertRefused(new Multipart().file("image", Fixtures.image("img_a_64x64.png")).field("source_prompt", "a")
                .field("prompt", "x".repeat(5000)).post(CLIENT, base, "api/edit"), 422, "prompt", "prompt is 5000 characters long");
    }

    @Test
    void notMultipartIs415() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(base + "api/edit")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build();
        assertRefused(CLIENT.send(req, HttpResponse.BodyHandlers.ofString()), 415, null, "expected multipart/form-data");
    }

    @Test
    void aCancelledJobReadsCancelledAndTheQueueGoesOn() throws Exception {
        String id = ApiTest.JSON.readTree(ApiTest.form(2, 500).field("strength", 1).post(CLIENT, base, "api/jobs").body()).get("id").asText();
        HttpResponse<String> d = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "api/jobs/" + id)).DELETE().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, d.statusCode());
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String state;
        do {
            state = ApiTest.JSON.readTree(CLIENT.send(HttpRequest.newBuilder(URI.create(base + "api/jobs/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString()).body()).get("state").asText();
        } while (!state.equals("cancelled") && System.nanoTime() < deadline);
        assertEquals("cancelled", state);
    }

    @Test
    void aClientThatDisconnectsMidEditLeavesTheServerWorking() throws Exception {
        long before = health().get("edits_done").asLong();
        byte[] body = ApiTest.form(9, 500).field("strength", 1).bytes();
        Multipart probe = ApiTest.form(9, 500);
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /api/edit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + contentTypeOf(body, probe)
                    + "\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!health().get("busy").asBoolean() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(health().get("busy").asBoolean(), "the edit never started");
        } // the client goes away mid-edit
        // The abandoned edit is cancelled (or, at worst, finishes); either way the worker is free again.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (health().get("busy").asBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertFalse(health().get("busy").asBoolean(), "the worker is still busy a minute after the client left");
        assertEquals(before, health().get("edits_done").asLong(), "the abandoned 400-step edit ran to its end instead of being cancelled");
    }

    /** The boundary of a body built by a Multipart (its first line). */
    private static String contentTypeOf(byte[] body, Multipart unused) {
        String first = new String(body, 0, 200, StandardCharsets.US_ASCII);
        return "multipart/form-data; boundary=" + first.substring(2, first.indexOf("\r\n"));
    }

    static JsonNode health() throws Exception {
        return ApiTest.JSON.readTree(CLIENT.send(HttpRequest.newBuilder(URI.create(base + "api/health")).build(),
                HttpResponse.BodyHandlers.ofString()).body());
    }
}
