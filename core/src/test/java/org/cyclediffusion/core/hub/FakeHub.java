package org.cyclediffusion.core.hub;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * A Hugging Face hub on 127.0.0.1, for tests: a model folder served in the hub's URL scheme. The
 * file list at {@code /api/models/{repo}/revision/{rev}}; {@code HEAD}/{@code GET} on
 * {@code /{repo}/resolve/{rev}/{path}}; safetensors files answered as LFS files are (a redirect to
 * a "CDN" on {@code localhost}, another host name for the same server, with {@code X-Linked-Etag}
 * = sha256 and {@code X-Linked-Size}), the others directly with a git-sha1 {@code ETag}; a
 * relative redirect for {@code model_index.json} (a renamed repository); {@code Range} requests;
 * and, once, a connection dropped halfway through the UNet weights. {@code private} repositories
 * need the token, {@code gated} ones answer 403 GatedRepo, unknown ones 404 RepoNotFound; {@code tests/old-name}
 * redirects (relatively) to {@code tests/tiny-sd}.
 */
final class FakeHub implements AutoCloseable {
    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    static final String TOKEN = "hf_fake_test_token";

    private final HttpServer server;
    private final Map<String, byte[]> files = new LinkedHashMap<>();
    private final Map<String, String> bySha256 = new ConcurrentHashMap<>();
    /** Every request as "METHOD path [Range] [auth]". */
    final List<String> log = new CopyOnWriteArrayList<>();
    private final Set<String> dropped = ConcurrentHashMap.newKeySet();
    final String dropOnce;

    FakeHub(Path folder, Map<String, byte[]> extra, String dropOnce) throws IOException {
        this.dropOnce = dropOnce;
        try (Stream<Path> all = Files.walk(folder)) {
            for (Path p : (Iterable<Path>) all.sorted()::iterator) {
                if (Files.isRegularFile(p)) {
                    files.put(folder.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
                }
            }
        }
        files.putAll(extra);
        files.forEach((name, bytes) -> bySha256.putIfAbsent(sha256(bytes), name));
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    byte[] file(String path) {
        return files.get(path);
    }

    long count(String prefix) {
        return log.stream().filter(l -> l.startsWith(prefix)).count();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getRawPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            String range = ex.getRequestHeaders().getFirst("Range");
            log.add(ex.getRequestMethod() + " " + path + (range != null ? " " + range : "") + (auth != null ? " auth" : ""));
            if (path.startsWith("/cdn/")) {
                String name = bySha256.get(path.substring("/cdn/".length()));
                serve(ex, name, files.get(name), range);
                return;
            }
            String[] p = path.split("/", 6); // "", org, name, api-or-resolve...
            String repo;
            String rest;
            if (path.startsWith("/api/models/")) {
                String[] a = path.substring("/api/models/".length()).split("/");
                repo = a[0] + "/" + a[1];
                rest = "api";
            } else if (p.length >= 6 && p[3].equals("resolve")) {
                repo = p[1] + "/" + p[2];
                rest = p[5];
            } else {
                ex.sendResponseHeaders(404, -1);
                return;
            }
            if (repo.equals("tests/old-name")) { // a renamed repository: relative redirects to the new name
                String to = path.replace("/tests/old-name/", "/tests/tiny-sd/");
                ex.getResponseHeaders().add("Location", to);
                ex.sendResponseHeaders(307, -1);
                return;
            }
            if (repo.startsWith("tests/gated")) {
                error(ex, 403, "GatedRepo");
                return;
            }
            if (repo.startsWith("tests/private") && !("Bearer " + TOKEN).equals(auth)) {
                error(ex, 401, "RepoNotFound");
                return;
            }
            if (!repo.equals("tests/tiny-sd") && !repo.equals("tests/private")) {
                error(ex, 404, "RepoNotFound");
                return;
            }
            if (rest.equals("api")) {
                StringBuilder json = new StringBuilder("{\"id\":\"" + repo + "\",\"sha\":\"" + COMMIT + "\",\"siblings\":[");
                List<String> names = new ArrayList<>(files.keySet());
                for (int i = 0; i < names.size(); i++) {
                    json.append(i > 0 ? "," : "").append("{\"rfilename\":\"").append(names.get(i)).append("\"}");
                }
                byte[] body = json.append("]}").toString().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().add("Content-Type", "application/json");
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
                return;
            }
            String revision = p[4];
            byte[] bytes = files.get(rest);
            if (bytes == null) {
                error(ex, 404, "EntryNotFound");
                return;
            }
            ex.getResponseHeaders().add("X-Repo-Commit", COMMIT);
            if (rest.equals("model_index.json") && revision.equals("main")) {
                ex.getResponseHeaders().add("Location", "/" + repo + "/resolve/" + COMMIT + "/" + rest);
                ex.sendResponseHeaders(307, -1);
                return;
            }
            if (rest.endsWith(".safetensors")) {
                String sha = sha256(bytes);
                ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha + "\"");
                ex.getResponseHeaders().add("X-Linked-Size", Long.toString(bytes.length));
                ex.getResponseHeaders().add("ETag", "\"" + gitSha1(bytes) + "\"");
                ex.getResponseHeaders().add("Location", "http://localhost:" + server.getAddress().getPort() + "/cdn/" + sha);
                ex.sendResponseHeaders(302, -1);
                return;
            }
            ex.getResponseHeaders().add("ETag", "\"" + gitSha1(bytes) + "\"");
            serve(ex, rest, bytes, range);
        } catch (RuntimeException e) {
            e.printStackTrace();
            throw e;
        }
    }

    private void serve(HttpExchange ex, String name, byte[] bytes, String range) throws IOException {
        long start = range != null ? Long.parseLong(range.replace("bytes=", "").replace("-", "")) : 0;
        int from = (int) start;
        if (range != null) {
            ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (bytes.length - 1) + "/" + bytes.length);
        }
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(range != null ? 206 : 200, head ? -1 : bytes.length - from);
        if (head) {
            return;
        }
        OutputStream out = ex.getResponseBody();
        if (name.equals(dropOnce) && dropped.add(name)) {
            out.write(bytes, from, (bytes.length - from) / 2);
            out.flush();
            // Drop the connection mid-file: the client must resume with a Range.
            throw new IOException("dropped on purpose");
        }
        out.write(bytes, from, bytes.length - from);
    }

    private static void error(HttpExchange ex, int status, String code) throws IOException {
        ex.getResponseHeaders().add("X-Error-Code", code);
        byte[] body = ("{\"error\":\"" + code + "\"}").getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, ex.getRequestMethod().equals("HEAD") ? -1 : body.length);
        if (!ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseBody().write(body);
        }
    }

    static String sha256(byte[] b) {
        return digest("SHA-256", b);
    }

    /** git's blob id: sha1("blob {size}\0" + content), the ETag the hub gives non-LFS files. */
    static String gitSha1(byte[] b) {
        byte[] header = ("blob " + b.length + "\0").getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[header.length + b.length];
        System.arraycopy(header, 0, all, 0, header.length);
        System.arraycopy(b, 0, all, header.length, b.length);
        return digest("SHA-1", all);
    }

    private static String digest(String algorithm, byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new UncheckedIOException(new IOException(e));
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
