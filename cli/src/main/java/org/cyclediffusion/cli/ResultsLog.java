package org.cyclediffusion.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.batch.ItemResult;
import org.cyclediffusion.core.io.Closeables;

/**
 * {@code OUT/results.jsonl}: one JSON line per finished item, appended and forced to disk before
 * the next item starts, so that after a crash (kill, OOM, power) every line in the file is an item
 * whose files are complete. A line torn by the crash (no final newline) is cut off when the log is
 * reopened with {@code --resume}. The file is locked while a batch writes it: two batches cannot
 * interleave their lines.
 */
final class ResultsLog implements AutoCloseable {
    static final String NAME = "results.jsonl";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private final Map<String, ItemResult> previous;

    private ResultsLog(Path file, FileChannel channel, FileLock lock, Map<String, ItemResult> previous) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
        this.previous = previous;
    }

    /**
     * Opens (creating) {@code dir/results.jsonl}.
     *
     * @param resume false: the file must not exist yet (a second run into the same folder would
     *               mix two batches); true: its records are read ({@link #previous()})
     */
    static ResultsLog open(Path dir, boolean resume) {
        Path file = dir.resolve(NAME);
        if (!resume && Files.exists(file)) {
            throw new Errors.UsageException("--output-dir " + dir + " already holds " + NAME + " from an earlier batch;"
                    + " pass --resume to continue it, or choose another --output-dir");
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new Errors.UsageException(file + " is locked by another batch that is writing to " + dir + "; wait for it or"
                        + " choose another --output-dir");
            }
            Map<String, ItemResult> previous = read(file, channel);
            channel.position(channel.size());
            syncDirectory(dir);
            return new ResultsLog(file, channel, lock, previous);
        } catch (IOException e) {
            Closeables.closeAfter(e, channel);
            throw new CycleDiffusionException("cannot open " + file + ": " + e, e);
        } catch (RuntimeException e) {
            throw Closeables.closeAfter(e, channel);
        }
    }

    /** The last record of every id already in the file (empty for a new file). */
    Map<String, ItemResult> previous() {
        return previous;
    }

    Path file() {
        return file;
    }

    /** Appends one line and forces it to disk. */
    void append(ItemResult result) {
        byte[] line = (result.toJson().toString() + "\n").getBytes(StandardCharsets.UTF_8);
        try {
            ByteBuffer b = ByteBuffer.wrap(line);
            while (b.hasRemaining()) {
                channel.write(b);
            }
            channel.force(false);
        } catch (IOException e) {
            throw new CycleDiffusionException("cannot append to " + file + ": " + e, e);
        }
    }

    private static Map<String, ItemResult> read(Path file, FileChannel channel) throws IOException {
        long size = channel.size();
        if (size == 0) {
            return Map.of();
        }
        if (size > Integer.MAX_VALUE) {
            throw new CycleDiffusionException(file + " is larger than 2 GB; split the batch");
        }
        ByteBuffer all = ByteBuffer.allocate((int) size);
        channel.read(all, 0);
        byte[] bytes = all.array();
        int end = bytes.length;
        while (end > 0 && bytes[end - 1] != '\n') {
            end--;
        }
        if (end < bytes.length) {
            // The crash came in the middle of an append: that item's files may be complete but it
            // was not recorded, so it runs again; the partial line goes.
            channel.truncate(end);
            channel.force(true);
        }
        Map<String, ItemResult> out = new LinkedHashMap<>();
        String[] lines = new String(bytes, 0, end, StandardCharsets.UTF_8).split("\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = MAPPER.readTree(lines[i]);
            } catch (IOException e) {
                throw new Errors.UsageException(file + ":" + (i + 1) + " is not a JSON line written by batch (" + e.getMessage().lines()
                        .findFirst().orElse("") + "); fix or remove that line to resume");
            }
            ItemResult r = ItemResult.fromJson(node);
            out.put(r.id(), r);
        }
        return out;
    }

    @Override
    public void close() {
        try (channel) {
            lock.release();
        } catch (IOException e) {
            throw new CycleDiffusionException("cannot close " + file + ": " + e, e);
        }
    }

    /** Makes the new file's directory entry durable too (Linux allows forcing a directory). */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // Not possible on every platform; the appended lines are forced regardless.
        }
    }
}
