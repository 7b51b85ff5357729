package org.cyclediffusion.core.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The hub's HTTP interface as huggingface_hub uses it (v0.19 {@code file_download.py},
 * {@code hf_api.py}): the file list from {@code /api/models/{repo}/revision/{rev}}, each file's
 * metadata from a {@code HEAD} on {@code /{repo}/resolve/{rev}/{path}} that follows only relative
 * redirects (a renamed repository) and reads {@code X-Repo-Commit}, {@code X-Linked-Etag} /
 * {@code ETag} and {@code X-Linked-Size} / {@code Content-Length} from the answer (for LFS files a
 * redirect to the CDN, whose {@code Location} is then downloaded), and the bytes with a
 * {@code Range} from what is already on disk, so a broken connection resumes.
 * {@code Authorization: Bearer} goes to the endpoint only, never to the CDN host of a redirect.
 */
public final class HubClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_REDIRECTS = 10;
    /** Resumptions of one file after a broken connection before giving up. */
    private static final int MAX_RESUMES = 5;

    private final URI endpoint;
    private final Optional<String> token;
    private final HttpClient http;

    public HubClient(URI endpoint, Optional<String> token) {
        this.endpoint = endpoint;
        this.token = token;
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** {@code $HF_ENDPOINT} (default the public hub) and the token of {@code $HF_TOKEN} or huggingface_hub's token file. */
    public static HubClient fromEnvironment(Map<String, String> env) {
        String e = env.getOrDefault("HF_ENDPOINT", "https://huggingface.co");
        return new HubClient(URI.create(e.endsWith("/") ? e.substring(0, e.length() - 1) : e), token(env));
    }

    static Optional<String> token(Map<String, String> env) {
        for (String name : new String[] {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
            String t = env.get(name);
            if (t != null && !t.isBlank()) {
                return Optional.of(t.trim());
            }
        }
        String path = env.get("HF_TOKEN_PATH");
        Path file = path != null && !path.isBlank() ? Path.of(path) : HubCache.huggingfaceHome(env).resolve("token");
        try {
            return Files.isRegularFile(file) ? Optional.of(Files.readString(file).trim()).filter(s -> !s.isEmpty()) : Optional.empty();
        } catch (IOException e) {
            throw new HubException(file + ": cannot read the Hugging Face token file (" + e + ")", e);
        }
    }

    public URI endpoint() {
        return endpoint;
    }

    /** The commit a revision is at and every file of the repository there. */
    public record RepoFiles(String commit, List<String> files) {
    }

    /** What a {@code HEAD} on a file's resolve URL says. */
    public record FileMetadata(String commit, String etag, long size, URI location) {
    }

    public RepoFiles files(HubId id) {
        URI uri = endpoint.resolve("/api/models/" + id.repo() + "/revision/" + encode(id.revision()));
        HttpResponse<InputStream> r = send(request(uri, "GET"), id, null);
        for (int hop = 0; hop < MAX_REDIRECTS && r.statusCode() >= 300 && r.statusCode() < 400
                && r.headers().firstValue("Location").isPresent(); hop++) {
            close(r); // a renamed repository: the API answers with a redirect to the new name
            uri = uri.resolve(r.headers().firstValue("Location").get());
            r = send(request(uri, "GET"), id, null);
        }
        try (InputStream body = r.body()) {
            if (r.statusCode() != 200) {
                throw failure(r, id, null);
            }
            JsonNode info = JSON.readTree(body);
            List<String> files = new ArrayList<>();
            info.path("siblings").forEach(s -> files.add(s.path("rfilename").asText()));
            String sha = info.path("sha").asText("");
            if (!HubId.isCommitHash(sha)) {
                throw new HubException(id + ": " + uri + " answered without a commit hash (\"sha\": \"" + sha + "\")");
            }
            return new RepoFiles(sha, files);
        } catch (IOException e) {
            throw new HubException(id + ": cannot read the file list from " + uri + " (" + e + ")", e);
        }
    }

    public FileMetadata metadata(HubId id, String path) {
        URI uri = endpoint.resolve("/" + id.repo() + "/resolve/" + encode(id.revision()) + "/" + path);
        for (int hop = 0; hop < MAX_REDIRECTS; hop++) {
            HttpResponse<InputStream> r = send(request(uri, "HEAD").header("Accept-Encoding", "identity"), id, path);
            close(r);
            int s = r.statusCode();
            boolean redirect = s >= 300 && s < 400;
            Optional<String> location = r.headers().firstValue("Location");
            if (redirect && location.isPresent() && URI.create(location.get()).getHost() == null) {
                uri = uri.resolve(location.get()); // relative: the repository was renamed; follow
                continue;
            }
            if (s != 200 && !redirect) {
                throw failure(r, id, path);
            }
            URI answered = uri;
            String commit = r.headers().firstValue("X-Repo-Commit").orElseThrow(
                    () -> new HubException(id + ": " + answered + " answered without X-Repo-Commit (not a Hugging Face hub endpoint?)"));
            String etag = r.headers().firstValue("X-Linked-Etag").or(() -> r.headers().firstValue("ETag")).map(HubClient::normalizeEtag)
                    .orElseThrow(() -> new HubException(id + ": " + answered + " answered without an ETag"));
            long size = r.headers().firstValue("X-Linked-Size").or(() -> r.headers().firstValue("Content-Length")).map(Long::parseLong)
                    .orElse(-1L);
            URI download = redirect && location.isPresent() ? uri.resolve(location.get()) : uri;
            return new FileMetadata(commit, etag, size, download);
        }
        throw new HubException(id + ": more than " + MAX_REDIRECTS + " redirects for " + path);
    }

    /**
     * Appends the rest of the file at {@code location} to {@code partial} (starting at its current
     * size, with a {@code Range}), resuming after broken connections, until it holds {@code size} bytes.
     */
    void download(HubId id, String path, URI location, Path partial, long size, DownloadListener listener) throws IOException {
        long have = Files.exists(partial) ? Files.size(partial) : 0;
        listener.started(path, have, size);
        int resumes = 0;
        while (size < 0 || have < size) {
            try {
                have = fetchFrom(id, path, location, partial, have, size, listener);
                if (size < 0) {
                    break;
                }
                if (have < size) {
                    throw new IOException("connection closed at " + have + " of " + size + " bytes");
                }
            } catch (IOException e) {
                have = Files.exists(partial) ? Files.size(partial) : 0;
                if (++resumes > MAX_RESUMES) {
                    throw new HubException(id + ": download of " + path + " broke off " + MAX_RESUMES + " times (last at " + have + " of "
                            + size + " bytes: " + e.getMessage() + "); run again to resume", e);
                }
                listener.resuming(path, have, e.getMessage());
            }
        }
        if (size >= 0 && have != size) {
            throw new HubException(id + ": " + path + " has " + have + " bytes, the hub announced " + size + "; delete " + partial
                    + " and run again");
        }
    }

    private long fetchFrom(HubId id, String path, URI location, Path partial, long have, long size, DownloadListener listener)
            throws IOException {
        URI uri = location;
        HttpResponse<InputStream> r = null;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder b = request(uri, "GET").header("Accept-Encoding", "identity");
            if (!sameHost(uri)) {
                b = HttpRequest.newBuilder(uri).GET(); // no token for another host (the CDN)
            }
            if (have > 0) {
                b.header("Range", "bytes=" + have + "-");
            }
            r = send(b, id, path);
            int s = r.statusCode();
            if (s >= 300 && s < 400 && r.headers().firstValue("Location").isPresent()) {
                close(r);
                uri = uri.resolve(r.headers().firstValue("Location").get());
                continue;
            }
            break;
        }
        int s = r.statusCode();
        if (s == 416 && size >= 0 && have >= size) {
            close(r);
            return have;
        }
        if (s != 200 && s != 206) {
            close(r);
            throw failure(r, id, path);
        }
        boolean append = s == 206;
        long pos = append ? have : 0;
        try (InputStream in = r.body();
                OutputStream out = Files.newOutputStream(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buf = new byte[1 << 16];
            long lastReport = 0;
            for (int n; (n = in.read(buf)) > 0;) {
                out.write(buf, 0, n);
                pos += n;
                if (pos - lastReport >= (1 << 20) || (size >= 0 && pos == size)) {
                    listener.progressed(path, pos);
                    lastReport = pos;
                }
            }
        } finally {
            listener.progressed(path, Files.size(partial));
        }
        return Files.size(partial);
    }

    private boolean sameHost(URI uri) {
        return uri.getHost() != null && uri.getHost().equalsIgnoreCase(endpoint.getHost()) && uri.getPort() == endpoint.getPort();
    }

    private HttpRequest.Builder request(URI uri, String method) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody())
                .header("User-Agent", "cyclediffusion-java");
        token.ifPresent(t -> b.header("Authorization", "Bearer " + t));
        return b;
    }

    private HttpResponse<InputStream> send(HttpRequest.Builder b, HubId id, String path) {
        HttpRequest req = b.timeout(Duration.ofMinutes(5)).build();
        try {
            return http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new HubException(id + ": cannot reach " + req.uri().getScheme() + "://" + req.uri().getAuthority() + " for "
                    + (path == null ? "the file list" : path) + " (" + e + "); set HF_HUB_OFFLINE=1 (or --offline) to use the cache only", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HubException(id + ": interrupted while downloading", e);
        }
    }

    /** The hub's error answers as one line: what is wrong and what to do. */
    private HubException failure(HttpResponse<?> r, HubId id, String path) {
        int s = r.statusCode();
        String code = r.headers().firstValue("X-Error-Code").orElse("");
        String what = path == null ? id.repo() : id + " " + path;
        String msg = switch (code) {
            case "GatedRepo" -> id.repo() + " is gated: accept its conditions at " + endpoint + "/" + id.repo()
                    + " and use a token of that account (HF_TOKEN or huggingface-cli login)";
            case "RepoNotFound" -> "no repository " + id.repo() + " at " + endpoint + (token.isPresent() ? "" : " (or it is private: set HF_TOKEN)");
            case "RevisionNotFound" -> id.repo() + " has no revision " + id.revision();
            case "EntryNotFound" -> id + " has no file " + path;
            default -> switch (s) {
                case 401 -> what + ": 401 Unauthorized from " + endpoint + ": the repository is private or does not exist; "
                        + (token.isPresent() ? "the token has no access to it" : "set HF_TOKEN (or huggingface-cli login)");
                case 403 -> what + ": 403 Forbidden from " + endpoint + ": " + (token.isPresent() ? "the token has no access"
                        : "a gated or private repository needs a token (HF_TOKEN)");
                case 404 -> what + ": 404 Not Found at " + endpoint;
                default -> what + ": HTTP " + s + " from " + r.uri();
            };
        };
        return new HubException(msg + " (" + s + ")");
    }

    static String normalizeEtag(String etag) {
        String e = etag.trim();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        return e.replace("\"", "");
    }

    private static String encode(String revision) {
        return URLEncoder.encode(revision, StandardCharsets.UTF_8);
    }

    private static void close(HttpResponse<InputStream> r) {
        try {
            r.body().close();
        } catch (IOException ignored) {
            // nothing was read from this answer
        }
    }
}
