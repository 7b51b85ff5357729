package org.cyclediffusion.core.hub;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.cyclediffusion.core.config.JsonConfig;

/**
 * A hub id as a snapshot folder of the shared cache: used as cached when offline
 * ({@code HF_HUB_OFFLINE=1} or {@code --offline}), else brought up to date by downloading the
 * files the run needs ({@link HubFileSelection}) that the snapshot lacks.
 */
public final class HubModels {
    private static final System.Logger LOG = System.getLogger(HubModels.class.getName());
    private static final Set<String> TRUE = Set.of("1", "true", "yes", "on");

    private final HubCache cache;
    private final HubClient client;
    private final boolean offline;
    private final DownloadListener listener;

    public HubModels(HubCache cache, HubClient client, boolean offline, DownloadListener listener) {
        this.cache = cache;
        this.client = client;
        this.offline = offline;
        this.listener = listener;
    }

    public static HubModels fromEnvironment(Map<String, String> env, boolean offlineFlag, DownloadListener listener) {
        boolean offline = offlineFlag || TRUE.contains(env.getOrDefault("HF_HUB_OFFLINE", "").trim().toLowerCase(Locale.ROOT));
        return new HubModels(HubCache.fromEnvironment(env), HubClient.fromEnvironment(env), offline, listener);
    }

    public HubCache cache() {
        return cache;
    }

    /**
     * The snapshot folder holding every file the run needs.
     *
     * @param weights false: only what the tokenizer needs ({@code model_index.json}, {@code tokenizer/})
     */
    public Path snapshot(HubId id, String backend, String variant, boolean safetyChecker, boolean weights) {
        if (offline) {
            Path snapshot = cached(id).orElseThrow(() -> notCached(id, "is not"));
            List<String> absent = absentComponents(snapshot, weights, safetyChecker);
            if (!absent.isEmpty()) {
                throw notCached(id, "lacks " + absent + " in " + snapshot + ";");
            }
            return snapshot;
        }
        HubClient.RepoFiles repo;
        try {
            repo = client.files(id);
        } catch (HubException e) {
            Optional<Path> cached = e.getCause() instanceof IOException ? cached(id) : Optional.empty();
            if (cached.isPresent()) {
                LOG.log(System.Logger.Level.WARNING, e.getMessage() + "; using the cached snapshot " + cached.get());
                return cached.get();
            }
            throw e;
        }
        if (!repo.files().contains(HubFileSelection.MODEL_INDEX)) {
            throw new HubException(id + ": no " + HubFileSelection.MODEL_INDEX + " in the repository (not a diffusers pipeline; for a"
                    + " single checkpoint file download it and pass the file to --model)");
        }
        try {
            fetch(id, repo.commit(), HubFileSelection.MODEL_INDEX);
            Path snapshot = cache.snapshot(id, repo.commit());
            JsonConfig index = JsonConfig.read(snapshot.resolve(HubFileSelection.MODEL_INDEX));
            List<String> needed = weights ? HubFileSelection.select(id, repo.files(), index, backend, variant, safetyChecker)
                    : repo.files().stream().filter(f -> f.startsWith("tokenizer/")).toList();
            for (String f : needed) {
                fetch(id, repo.commit(), f);
            }
            cache.writeRef(id, repo.commit());
            return snapshot;
        } catch (IOException e) {
            throw new HubException(id + ": cannot write the Hugging Face cache at " + cache.repoDir(id) + " (" + e + ")", e);
        }
    }

    private HubException notCached(HubId id, String state) {
        return new HubException(id + " " + state + " in the Hugging Face cache at " + cache.repoDir(id) + " and this run is offline"
                + " (HF_HUB_OFFLINE=1 or --offline): run once online, or huggingface-cli download " + id.repo()
                + (id.revision().equals(HubId.DEFAULT_REVISION) ? "" : " --revision " + id.revision()));
    }

    /** Components model_index.json declares whose folder the cached snapshot lacks (a partial download by hand). */
    private static List<String> absentComponents(Path snapshot, boolean weights, boolean safetyChecker) {
        JsonConfig index = JsonConfig.read(snapshot.resolve(HubFileSelection.MODEL_INDEX));
        List<String> absent = new ArrayList<>();
        index.node().fields().forEachRemaining(e -> {
            String c = e.getKey();
            boolean declared = !c.startsWith("_") && e.getValue().isArray() && e.getValue().size() == 2 && !e.getValue().get(0).isNull();
            boolean wanted = weights ? safetyChecker || !c.equals("safety_checker") : c.equals("tokenizer");
            if (declared && wanted && !Files.isDirectory(snapshot.resolve(c))) {
                absent.add(c + "/");
            }
        });
        return absent;
    }

    /** The cached snapshot of the revision, when its ref and model_index.json are there. */
    private Optional<Path> cached(HubId id) {
        return cache.commit(id).map(c -> cache.snapshot(id, c)).filter(s -> Files.isRegularFile(s.resolve(HubFileSelection.MODEL_INDEX)));
    }

    private static boolean complete(Path blob, long size) throws IOException {
        return Files.isRegularFile(blob) && (size < 0 || Files.size(blob) == size);
    }

    /** One file into the snapshot: nothing when it is there, a link when its blob is, else a (resumed) download. */
    private void fetch(HubId id, String commit, String path) throws IOException {
        Path target = cache.snapshot(id, commit).resolve(path);
        if (Files.isRegularFile(target)) {
            return;
        }
        HubClient.FileMetadata meta = client.metadata(id, path);
        Path blob = cache.blob(id, meta.etag());
        if (!complete(blob, meta.size())) {
            Path lockFile = cache.lock(id, meta.etag());
            Files.createDirectories(lockFile.getParent());
            Files.createDirectories(blob.getParent());
            try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    FileLock lock = ch.lock()) {
                if (!complete(blob, meta.size())) { // another process may have finished it while we waited
                    Path partial = cache.incomplete(id, meta.etag());
                    client.download(id, path, meta.location(), partial, meta.size(), listener);
                    HubCache.moveAtomically(partial, blob);
                }
            }
        }
        cache.link(id, commit, path, meta.etag());
        listener.finished(path);
    }
}
