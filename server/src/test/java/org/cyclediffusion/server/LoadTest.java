package org.cyclediffusion.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.server.testing.Multipart;
import org.cyclediffusion.server.testing.TestServers;
import org.junit.jupiter.api.Test;

/**
 * 8 concurrent clients × 4 requests against a queue of 2 (loopback only; bounded in count and
 * time): every answer is the correct image for its own request, or a 429 with Retry-After; no
 * request is lost and none runs twice.
 */
class LoadTest {
    static final int CLIENTS = 8;
    static final int REQUESTS = 4;

    static Multipart request(int seed, String name) throws Exception {
        return new Multipart().file("image", name, java.nio.file.Files.readAllBytes(Fixtures.image("img_a_64x64.png")))
                .field("source_prompt", "An astronaut riding a horse").field("prompt", "An astronaut riding an elephant")
                .field("num_inference_steps", 3).field("guidance_scale", 2).field("seed", seed);
    }

    static long editsDone(HttpClient client, String base) throws Exception {
        return ApiTest.JSON.readTree(client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "api/health")).build(),
                HttpResponse.BodyHandlers.ofString()).body()).get("edits_done").asLong();
    }

    @Test
    void concurrentClientsGetTheirOwnImageOrA429() throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        try (EditServer server = TestServers.start(TestServers.options().withMaxQueue(2))) {
            String base = server.url();
            // The image each seed must give, from the same server, one request at a time.
            RgbImage[] expected = new RgbImage[REQUESTS];
            for (int r = 0; r < REQUESTS; r++) {
                HttpResponse<String> a = request(r, "reference.png").post(client, base, "api/edit");
                assertEquals(200, a.statusCode(), a.body());
                expected[r] = ApiTest.decode(ApiTest.JSON.readTree(a.body()).get("images").get(0).asText(), "reference");
            }
            long doneBefore = editsDone(client, base);

            ConcurrentHashMap<String, Integer> statuses = new ConcurrentHashMap<>();
            ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                int client0 = c;
                clients.add(pool.submit(() -> {
                    for (int r = 0; r < REQUESTS; r++) {
                        String name = "c" + client0 + "-r" + r + ".png";
                        HttpResponse<String> a = client.send(request(r, name).request(base, "api/edit").timeout(Duration.ofMinutes(2)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        assertTrue(statuses.putIfAbsent(name, a.statusCode()) == null, "two answers for " + name);
                        JsonNode body = ApiTest.JSON.readTree(a.body());
                        if (a.statusCode() == 429) {
                            long retry = Long.parseLong(a.headers().firstValue("Retry-After").orElseThrow());
                            assertTrue(retry >= 1, "Retry-After " + retry);
                            assertTrue(body.get("error").asText().startsWith("the server is busy"), a.body());
                            continue;
                        }
                        assertEquals(200, a.statusCode(), name + ": " + a.body());
                        // This request's own answer: its image name and seed, and the pixels that seed gives.
                        assertEquals(name, body.at("/parameters/images/0").asText());
                        assertEquals(r, body.get("seed").asInt());
                        RgbImage got = ApiTest.decode(body.get("images").get(0).asText(), name);
                        assertArrayEquals(expected[r].rgb(), got.rgb(), name);
                    }
                    return null;
                }));
            }
            pool.shutdown();
            assertTrue(pool.awaitTermination(5, TimeUnit.MINUTES), "clients still running after 5 minutes");
            for (Future<?> f : clients) {
                f.get();
            }
            long ok = statuses.values().stream().filter(s -> s == 200).count();
            long busy = statuses.values().stream().filter(s -> s == 429).count();
            System.out.printf("load: %d clients x %d requests, queue 2: %d answered 200, %d answered 429%n", CLIENTS, REQUESTS, ok, busy);
            assertEquals(CLIENTS * REQUESTS, statuses.size(), "answers");
            assertEquals(CLIENTS * REQUESTS, ok + busy);
            assertTrue(ok >= 3, "fewer than 3 edits got through: " + statuses);
            assertTrue(busy >= 1, "8 clients on a queue of 2 and never a 429: the limit does not work: " + statuses);
            assertEquals(ok, editsDone(client, base) - doneBefore, "edits run vs. 200 answers (one per accepted request)");
        }
    }
}
