package org.cyclediffusion.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.stream.Stream;

/**
 * A Hugging Face cache written by hand the way huggingface_hub lays it out, independently of the
 * code under test: {@code models--ORG--NAME/blobs/<sha256>}, {@code snapshots/<commit>/<path>}
 * relative symlinks to them, {@code refs/main} holding the commit.
 */
public final class HubCacheFixture {
    private HubCacheFixture() {
    }

    public static void build(Path cacheRoot, String repo, String commit, Path folder) {
        Path repoDir = cacheRoot.resolve("models--" + repo.replace("/", "--"));
        try (Stream<Path> all = Files.walk(folder)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                if (!Files.isRegularFile(p)) {
                    continue;
                }
                byte[] bytes = Files.readAllBytes(p);
                Path blob = repoDir.resolve("blobs").resolve(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)));
                Files.createDirectories(blob.getParent());
                if (!Files.exists(blob)) {
                    Files.write(blob, bytes);
                }
                Path link = repoDir.resolve("snapshots").resolve(commit).resolve(folder.relativize(p).toString());
                Files.createDirectories(link.getParent());
                Files.createSymbolicLink(link, link.getParent().relativize(blob));
            }
            Files.createDirectories(repoDir.resolve("refs"));
            Files.writeString(repoDir.resolve("refs/main"), commit);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
