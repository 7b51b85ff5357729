package org.cyclediffusion.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.server.testing.Multipart;
import org.cyclediffusion.server.testing.TestServers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The API against a real server (tiny ONNX model, real ONNX Runtime) on a free loopback port. */
class ApiTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static EditServer server;
    static String base;
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.options());
        base = server.url();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static Multipart form(long seed, int steps) throws Exception {
        return new Multipart().file("image", Fixtures.image("img_a_64x64.png"))
                .field("source_prompt", "An astronaut riding a horse").field("prompt", "An astronaut riding an elephant")
                .field("num_inference_steps", steps).field("guidance_scale", 2).field("seed", seed);
    }

    static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    static HttpResponse<String> get(String path) throws Exception {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(base + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void healthAndModelSayWhatIsLoaded() throws Exception {
        JsonNode h = json(get("api/health"));
        assertEquals("ok", h.get("status").asText());
        assertFalse(h.get("api_key_required").asBoolean());
        JsonNode m = json(get("api/model"));
        assertEquals(TestServers.model().toString(), m.get("model").asText());
        assertEquals("onnx", m.get("backend").asText());
        assertEquals("cpu", m.get("device").asText());
        assertEquals("fp32", m.get("dtype").asText());
        assertTrue(m.get("safety_checker").asBoolean());
        assertEquals(0.8, m.at("/defaults/strength").asDouble());
        assertEquals(50, m.at("/defaults/num_inference_steps").asInt());
        assertEquals(7.5, m.at("/defaults/guidance_scale").asDouble());
    }

    @Test
    void editAnswersThePipelinesImagesAsPngsWithProvenance() throws Exception {
        Multipart f = form(7, 5).field("num_images_per_prompt", 2);
        HttpResponse<String> r = f.post(CLIENT, base, "api/edit");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode a = json(r);
        assertEquals(2, a.get("images").size());
        assertEquals(7, a.get("seed").asLong());
        assertEquals(2, a.get("nsfw_content_detected").size());
        assertEquals(4, a.at("/timings/steps").asInt()); // int(5 · 0.8)
        assertTrue(a.at("/timings/total_ms").asDouble() > 0);

        // The same request straight through the library: the same pixels, and the PNG bytes that
        // ImageFiles writes with EditProvenance's text (what edit --output writes).
        try (CycleDiffusionPipeline pipe = new PipelineLoader().load(PipelineLoader.Options.of(TestServers.model()))) {
            EditRequest request = EditRequest.builder().image(ImageFiles.read(Fixtures.image("img_a_64x64.png")))
                    .sourcePrompt("An astronaut riding a horse").prompt("An astronaut riding an elephant").numInferenceSteps(5)
                    .guidanceScale(2).numImagesPerPrompt(2).seed(7).build();
            EditResult expected = pipe.edit(request);
            EditProvenance p = new EditProvenance(TestServers.SOFTWARE, TestServers.model().toString(), pipe.models().description(),
                    List.of("img_a_64x64.png"), request, 7, true);
            for (int i = 0; i < 2; i++) {
                byte[] png = Base64.getDecoder().decode(a.get("images").get(i).asText());
                assertArrayEquals(ImageFiles.pngBytes(expected.images().get(i), p.pngText(i)), png, "image " + i);
                Path file = dir.resolve("answer-" + i + ".png");
                Files.write(file, png);
                assertEquals(p.pngText(i), ImageFiles.readPngText(file));
                assertEquals(expected.nsfwContentDetected().orElseThrow()[i], a.get("nsfw_content_detected").get(i).asBoolean());
            }
            assertEquals(JSON.readTree(p.parameters().toString()), a.get("parameters"));
        }
    }

    @Test
    void aMissingSeedIsDrawnAndReportedSoTheEditCanBeRepeated() throws Exception {
        Multipart f = new Multipart().file("image", Fixtures.image("img_a_64x64.png")).field("source_prompt", "a horse")
                .field("prompt", "an elephant").field("num_inference_steps", 3);
        JsonNode first = json(f.post(CLIENT, base, "api/edit"));
        long seed = first.get("seed").asLong();
        JsonNode again = json(new Multipart().file("image", Fixtures.image("img_a_64x64.png")).field("source_prompt", "a horse")
                .field("prompt", "an elephant").field("num_inference_steps", 3).field("seed", seed).post(CLIENT, base, "api/edit"));
        assertEquals(first.get("images"), again.get("images"));
    }

    @Test
    void aJobStreamsOneEventPerStepAndKeepsItsResult() throws Exception {
        HttpResponse<String> r = form(3, 10).post(CLIENT, base, "api/jobs");
        assertEquals(202, r.statusCode(), r.body());
        String id = json(r).get("id").asText();
        assertEquals("/api/jobs/" + id, r.headers().firstValue("Location").orElseThrow());
        List<String[]> events = events(id, null);
        List<Integer> steps = new ArrayList<>();
        for (String[] e : events) {
            if (e[0].equals("step")) {
                steps.add(JSON.readTree(e[1]).get("step").asInt());
            }
        }
        String[] last = events.get(events.size() - 1);
        assertEquals("done", last[0]);
        // Steps not yet seen when the stream opened arrive one by one, in order, up to 8 = int(10 · 0.8).
        assertFalse(steps.isEmpty(), "no step events");
        for (int i = 1; i < steps.size(); i++) {
            assertEquals(steps.get(i - 1) + 1, steps.get(i), "steps " + steps);
        }
        assertEquals(8, steps.get(steps.size() - 1));
        JsonNode job = json(get("api/jobs/" + id));
        assertEquals("done", job.get("state").asText());
        assertEquals(8, job.get("step").asInt());
        assertEquals(8, job.get("total").asInt());
        assertEquals(1, job.at("/result/images").size());
        assertEquals(JSON.readTree(last[1]).get("result"), job.get("result"));
    }

    @Test
    void deletingARunningJobStopsItAtTheNextStep() throws Exception {
        HttpResponse<String> r = form(4, 500).field("strength", 1).post(CLIENT, base, "api/jobs");
        String id = json(r).get("id").asText();
        List<String[]> first = events(id, "step"); // wait until it runs
        assertEquals("step", first.get(first.size() - 1)[0], "no step seen");
        HttpResponse<String> d = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "api/jobs/" + id)).DELETE().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, d.statusCode(), d.body());
        List<String[]> rest = events(id, null);
        assertEquals("cancelled", rest.get(rest.size() - 1)[0]);
        JsonNode job = json(get("api/jobs/" + id));
        assertEquals("cancelled", job.get("state").asText());
        assertTrue(job.get("step").asInt() < 500, job.toString());
        assertEquals(200, form(5, 2).post(CLIENT, base, "api/edit").statusCode(), "the next edit");
    }

    /** Reads the job's event stream: [name, data] pairs, until a last event or the first event named {@code until}. */
    static List<String[]> events(String id, String until) throws Exception {
        HttpResponse<InputStream> r = CLIENT.send(HttpRequest.newBuilder(URI.create(base + "api/jobs/" + id + "/events")).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String[]> out = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            String name = null;
            String line;
            while ((line = in.readLine()) != null) {
                if (line.startsWith("event: ")) {
                    name = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    out.add(new String[] {name, line.substring(6)});
                    if (name.equals("done") || name.equals("failed") || name.equals("cancelled") || name.equals(until)) {
                        break;
                    }
                }
            }
        }
        return out;
    }

    @Test
    void unknownPathsAndMethodsAreJsonErrors() throws Exception {
        HttpResponse<String> r = get("api/nothing");
        assertEquals(404, r.statusCode());
        assertTrue(json(r).get("error").asText().contains("/api/edit"));
        r = get("api/jobs/0123");
        assertEquals(404, r.statusCode());
        assertEquals("no job 0123 (unknown, or finished long ago and forgotten)", json(r).get("error").asText());
        r = get("api/edit");
        assertEquals(405, r.statusCode());
        assertEquals("POST", r.headers().firstValue("Allow").orElseThrow());
        r = get("../../etc/passwd");
        // Jetty refuses this itself and closes the connection: it must say so, or the client's next request on
        // that pooled connection gets no answer ("header parser received no bytes", seen once in CI)
        assertEquals("close", r.headers().firstValue("Connection").orElse("(none)"));
        assertTrue(r.statusCode() == 400 || r.statusCode() == 404, r.statusCode() + " " + r.body());
        assertFalse(r.body().contains("root:"));
        json(r); // JSON even from Jetty's own refusals
    }

    @Test
    void thePageIsServedFromTheJarAndNeedsNoNetwork() throws Exception {
        for (String path : new String[] {"", "app.js", "style.css"}) {
            HttpResponse<String> r = get(path);
            assertEquals(200, r.statusCode(), path);
            assertFalse(r.body().contains("http://") || r.body().contains("https://") || r.body().contains("//cdn"),
                    path + " refers to another site");
        }
        String html = get("").body();
        for (String id : new String[] {"image", "prompt", "source_prompt", "strength", "num_inference_steps", "guidance_scale",
            "source_guidance_scale", "eta", "seed", "dice", "num_images_per_prompt", "edit", "cancel", "progress", "error", "download"}) {
            assertTrue(html.contains("id=\"" + id + "\""), id);
        }
        assertTrue(html.contains("value=\"0.8\"") && html.contains("value=\"50\"") && html.contains("value=\"7.5\""), "diffusers' defaults");
    }

    @Test
    void anApiKeyIsRequiredOnEveryCallButHealthWhenSet() throws Exception {
        try (EditServer keyed = TestServers.start(TestServers.options().withHost("127.0.0.1", "s3cret"))) {
            String b = keyed.url();
            HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(b + "api/model")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode());
            r = CLIENT.send(HttpRequest.newBuilder(URI.create(b + "api/model")).header("Authorization", "Bearer s3creT").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode());
            assertEquals("wrong API key", json(r).get("error").asText());
            // The same connection again, with the right key: a header cache that ignored case answered 401 here.
            r = CLIENT.send(HttpRequest.newBuilder(URI.create(b + "api/model")).header("Authorization", "Bearer s3cret").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            r = CLIENT.send(form(1, 2).request(b, "api/edit").header("X-API-Key", "s3cret").build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            r = CLIENT.send(form(1, 2).request(b, "api/jobs").build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode(), r.body());
            r = CLIENT.send(HttpRequest.newBuilder(URI.create(b + "api/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertTrue(json(r).get("api_key_required").asBoolean());
        }
    }

    @Test
    void anotherAddressThanLoopbackNeedsAKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TestServers.options().withHost("0.0.0.0", null));
        assertTrue(e.getMessage().contains("CYCLEDIFFUSION_API_KEY"), e.getMessage());
        assertTrue(ServerOptions.isLoopback("localhost"));
        assertTrue(ServerOptions.isLoopback("127.0.0.2"));
        assertFalse(ServerOptions.isLoopback("0.0.0.0"));
        TestServers.options().withHost("0.0.0.0", "key"); // accepted with a key
    }

    static RgbImage decode(String base64, String name) {
        return ImageFiles.read(Base64.getDecoder().decode(base64), name, Long.MAX_VALUE);
    }
}
