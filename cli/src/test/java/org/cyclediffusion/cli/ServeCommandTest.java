package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.server.testing.Multipart;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve} as started from the command line: its answers are byte for byte what {@code edit} writes. */
class ServeCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void theApiAnswersThePngsEditWritesForTheSameRequest() throws Exception {
        String model = Fixtures.model("tiny-sd-onnx").toString();
        String image = Fixtures.image("img_a_64x64.png").toString();
        Path output = tmp.resolve("x.png");
        CliTest.Run cli = CliTest.run("edit", "--model", model, "--image", image, "--source-prompt", "An astronaut riding a horse",
                "--prompt", "An astronaut riding an elephant", "--steps", "5", "--guidance-scale", "2", "--seed", "5", "--num-images", "2",
                "--output", output.toString(), "--quiet");
        assertEquals(0, cli.code(), cli.err());
        try (ServeHarness serve = new ServeHarness("--model", model, "--port", "0")) {
            assertTrue(serve.out.toString().contains("serving " + model + " (onnx cpu fp32) at http://127.0.0.1:"), serve.out.toString());
            // The upload's file name is what the PNG's provenance records, as edit records the path it was given.
            HttpResponse<String> r = new Multipart().file("image", image, Files.readAllBytes(Path.of(image)))
                    .field("source_prompt", "An astronaut riding a horse").field("prompt", "An astronaut riding an elephant")
                    .field("num_inference_steps", 5).field("guidance_scale", 2).field("seed", 5).field("num_images_per_prompt", 2)
                    .post(HttpClient.newHttpClient(), serve.url(), "api/edit");
            assertEquals(200, r.statusCode(), r.body());
            JsonNode answer = JSON.readTree(r.body());
            for (int i = 0; i < 2; i++) {
                byte[] written = Files.readAllBytes(tmp.resolve("x-" + i + ".png"));
                assertArrayEquals(written, Base64.getDecoder().decode(answer.get("images").get(i).asText()), "image " + i);
            }
            assertEquals(0, serve.stop(60));
        }
    }

    @Test
    void stoppingCancelsTheRunningEditAndExitsCleanly() throws Exception {
        try (ServeHarness serve = new ServeHarness("--model", Fixtures.model("tiny-sd-onnx").toString(), "--port", "0")) {
            HttpResponse<String> r = new Multipart().file("image", Fixtures.image("img_a_64x64.png")).field("source_prompt", "a")
                    .field("prompt", "b").field("num_inference_steps", 900).field("strength", 1)
                    .post(HttpClient.newHttpClient(), serve.url(), "api/jobs");
            assertEquals(202, r.statusCode(), r.body());
            Thread.sleep(1500); // the edit is running (900 steps take about a minute)
            long t0 = System.nanoTime();
            assertEquals(0, serve.stop(60));
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertTrue(seconds < 15, "stopping took " + seconds + " s: the running edit was not stopped at its next step");
            assertTrue(serve.err.toString().isEmpty() || !serve.err.toString().contains("\tat "), serve.err.toString());
        }
    }

    @Test
    void sigtermStopsAServerProcessMidEdit() throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(javaBin, "-Xmx1g", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "serve", "--model", Fixtures.model("tiny-sd-onnx").toString(), "--port", "0");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        try {
            java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
                    java.nio.charset.StandardCharsets.UTF_8));
            String line = out.readLine();
            while (line != null && !line.startsWith("serving ")) {
                line = out.readLine();
            }
            assertTrue(line != null, "the server process did not start");
            String url = line.substring(line.indexOf("http://"));
            HttpResponse<String> r = new Multipart().file("image", Fixtures.image("img_a_64x64.png")).field("source_prompt", "a")
                    .field("prompt", "b").field("num_inference_steps", 900).field("strength", 1)
                    .post(HttpClient.newHttpClient(), url, "api/jobs");
            assertEquals(202, r.statusCode(), r.body());
            Thread.sleep(1500);
            long t0 = System.nanoTime();
            // Process.destroy() would send SIGTERM too, but closes our end of its output first.
            assertEquals(0, new ProcessBuilder("kill", "-TERM", Long.toString(p.pid())).start().waitFor());
            StringBuilder restOut = new StringBuilder();
            for (String l = out.readLine(); l != null; l = out.readLine()) {
                restOut.append(l).append('\n');
            }
            assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "no exit 30 s after SIGTERM");
            double seconds = (System.nanoTime() - t0) / 1e9;
            String rest = restOut.toString();
            assertTrue(rest.contains("stopping: no new edits; the running one stops at its next step"), rest);
            assertTrue(rest.contains("cyclediffusion: interrupted during serving; stopping, the server closes"), rest);
            assertTrue(!rest.contains("\tat ") && !rest.contains("Exception"), rest);
            assertEquals(143, p.exitValue(), "128 + SIGTERM, as a JVM ends on it");
            assertTrue(seconds < 15, "stopping took " + seconds + " s: the running edit was not stopped at its next step");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void anotherAddressThanLoopbackWithoutAKeyIsAUsageError() {
        CliTest.Run r = CliTest.run("serve", "--model", Fixtures.model("tiny-sd-onnx").toString(), "--host", "0.0.0.0", "--port", "0");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--host 0.0.0.0 is not a loopback address") && r.err().contains("CYCLEDIFFUSION_API_KEY"), r.err());
    }
}
