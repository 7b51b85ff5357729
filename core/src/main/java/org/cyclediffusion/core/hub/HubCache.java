package org.cyclediffusion.core.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;
import org.cyclediffusion.core.config.ConfigException;

/**
 * huggingface_hub's cache, shared with Python: {@code models--ORG--NAME/refs/<revision>} holds a
 * commit hash, {@code snapshots/<commit>/<path>} are relative symlinks into {@code blobs/<etag>},
 * each blob written as {@code <etag>.incomplete} and renamed when complete, so nothing under
 * {@code snapshots/} is ever a partial file. The root is {@code $HF_HUB_CACHE}, else
 * {@code $HF_HOME/hub}, else {@code ~/.cache/huggingface/hub}.
 */
public final class HubCache {
    private final Path root;

    public HubCache(Path root) {
        this.root = root;
    }

    /** The cache the environment designates, as huggingface_hub's {@code constants} compute it. */
    public static HubCache fromEnvironment(Map<String, String> env) {
        String hubCache = env.get("HF_HUB_CACHE");
        if (hubCache == null || hubCache.isBlank()) {
            hubCache = env.get("HUGGINGFACE_HUB_CACHE"); // the older name huggingface_hub still reads
        }
        if (hubCache != null && !hubCache.isBlank()) {
            return new HubCache(expandHome(hubCache));
        }
        return new HubCache(huggingfaceHome(env).resolve("hub"));
    }

    /** {@code $HF_HOME}, else {@code $XDG_CACHE_HOME/huggingface}, else {@code ~/.cache/huggingface}. */
    static Path huggingfaceHome(Map<String, String> env) {
        String home = env.get("HF_HOME");
        if (home != null && !home.isBlank()) {
            return expandHome(home);
        }
        String xdg = env.get("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return cache.resolve("huggingface");
    }

    private static Path expandHome(String p) {
        return p.startsWith("~/") ? Path.of(System.getProperty("user.home"), p.substring(2)) : Path.of(p);
    }

    public Path root() {
        return root;
    }

    public Path repoDir(HubId id) {
        return root.resolve(id.cacheFolderName());
    }

    /** The commit a revision points at in the cache: the revision itself when it is a hash, else {@code refs/<revision>}. */
    public Optional<String> commit(HubId id) {
        if (HubId.isCommitHash(id.revision())) {
            return Optional.of(id.revision());
        }
        Path ref = repoDir(id).resolve("refs").resolve(id.revision());
        if (!Files.isRegularFile(ref)) {
            return Optional.empty();
        }
        try {
            String hash = Files.readString(ref, StandardCharsets.UTF_8).trim();
            if (!HubId.isCommitHash(hash)) {
                throw new ConfigException(ref + ": expected a 40-character commit hash, found '" + hash + "'");
            }
            return Optional.of(hash);
        } catch (IOException e) {
            throw new ConfigException(ref + ": cannot read (" + e + ")", e);
        }
    }

    public Path snapshot(HubId id, String commit) {
        return repoDir(id).resolve("snapshots").resolve(commit);
    }

    Path blob(HubId id, String etag) {
        return repoDir(id).resolve("blobs").resolve(etag);
    }

    Path incomplete(HubId id, String etag) {
        return repoDir(id).resolve("blobs").resolve(etag + ".incomplete");
    }

    /** huggingface_hub's lock file for one blob, so that Python and Java never write it at once. */
    Path lock(HubId id, String etag) {
        return root.resolve(".locks").resolve(id.cacheFolderName()).resolve(etag + ".lock");
    }

    /** {@code refs/<revision>} := commit (not for a revision that is itself a hash). */
    void writeRef(HubId id, String commit) throws IOException {
        if (HubId.isCommitHash(id.revision())) {
            return;
        }
        Path ref = repoDir(id).resolve("refs").resolve(id.revision());
        Files.createDirectories(ref.getParent());
        Path tmp = Files.createTempFile(ref.getParent(), ".ref", ".tmp");
        Files.writeString(tmp, commit, StandardCharsets.UTF_8);
        moveAtomically(tmp, ref);
    }

    /** {@code snapshots/<commit>/<path>} → {@code ../../blobs/<etag>} (relative, as huggingface_hub links). */
    void link(HubId id, String commit, String path, String etag) throws IOException {
        Path target = snapshot(id, commit).resolve(path);
        Files.createDirectories(target.getParent());
        Path blob = blob(id, etag);
        Path relative = target.getParent().relativize(blob);
        Path tmp = target.resolveSibling("." + target.getFileName() + ".link-" + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        try {
            Files.createSymbolicLink(tmp, relative);
        } catch (UnsupportedOperationException | IOException noSymlinks) {
            Files.copy(blob, tmp); // file systems without symlinks: huggingface_hub copies too
        }
        moveAtomically(tmp, target);
    }

    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
