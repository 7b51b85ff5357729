package org.cyclediffusion.core.hub;

/**
 * Progress of downloads from the hub, for a progress bar (drawn by the caller: core has no
 * terminal code). Called from the downloading thread.
 */
public interface DownloadListener {
    DownloadListener NONE = new DownloadListener() {
    };

    /** A file starts (or resumes at {@code alreadyHave} bytes); {@code total} is -1 when unknown. */
    default void started(String path, long alreadyHave, long total) {
    }

    /** {@code have} bytes of {@code path} are on disk now. */
    default void progressed(String path, long have) {
    }

    /** The file is complete (moved into the cache). */
    default void finished(String path) {
    }

    /** The connection broke at {@code have} bytes; the download resumes from there. */
    default void resuming(String path, long have, String reason) {
    }
}
