package org.cyclediffusion.server.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** A multipart/form-data body as a browser or curl -F sends it, for API tests. */
public final class Multipart {
    private final String boundary = "----cyclediffusion-test-" + System.nanoTime();
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();

    public Multipart field(String name, Object value) {
        write("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n");
        return this;
    }

    public Multipart file(String name, String fileName, byte[] data) {
        write("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + fileName
                + "\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        body.writeBytes(data);
        write("\r\n");
        return this;
    }

    public Multipart file(String name, Path path) throws IOException {
        return file(name, path.getFileName().toString(), Files.readAllBytes(path));
    }

    private void write(String s) {
        body.writeBytes(s.getBytes(StandardCharsets.UTF_8));
    }

    public String contentType() {
        return "multipart/form-data; boundary=" + boundary;
    }

    public byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(body.toByteArray());
        out.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    /** POSTs this form to {@code base + path}. */
    public HttpResponse<String> post(HttpClient client, String base, String path) throws IOException, InterruptedException {
        return client.send(request(base, path).build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpRequest.Builder request(String base, String path) {
        return HttpRequest.newBuilder(URI.create(base + path.replaceFirst("^/", "")))
                .header("Content-Type", contentType())
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes()));
    }
}
