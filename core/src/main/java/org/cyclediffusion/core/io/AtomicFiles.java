package org.cyclediffusion.core.io;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.cyclediffusion.core.CycleDiffusionException;

/**
 * Writes a file so that readers see either the old file or the complete new one, never a torn
 * write: the bytes go to a hidden temporary file in the same directory, are forced to disk, and
 * the temporary file is renamed over the target with {@code ATOMIC_MOVE}. If anything fails the
 * temporary file is removed and the target is untouched.
 *
 * <p>Refusing to overwrite an input file is the caller's decision (the CLI's), not this class's.
 */
public final class AtomicFiles {
    private static final SecureRandom RANDOM = new SecureRandom();

    private AtomicFiles() {
    }

    /**
     * Writes {@code target} with the bytes {@code body} puts into the stream. The stream is
     * buffered; {@code body} need not (and should not) close it.
     *
     * @throws CycleDiffusionException naming the target when the directory is missing, the target
     *     is a directory, or writing or renaming fails (the cause is kept)
     */
    public static void write(Path target, IOConsumer<OutputStream> body) {
        Path abs = target.toAbsolutePath().normalize();
        Path dir = abs.getParent();
        if (dir == null || abs.getFileName() == null) {
            throw new CycleDiffusionException("cannot write " + target + ": not a file path");
        }
        if (!Files.isDirectory(dir)) {
            throw new CycleDiffusionException("cannot write " + target + ": directory " + dir + " does not exist");
        }
        if (Files.isDirectory(abs)) {
            throw new CycleDiffusionException("cannot write " + target + ": it is a directory");
        }
        Path tmp = dir.resolve("." + abs.getFileName() + "." + randomSuffix() + ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                OutputStream raw = Channels.newOutputStream(channel);
                BufferedOutputStream buffered = new BufferedOutputStream(raw, 1 << 16);
                body.accept(new FilterOutputStream(buffered) {
                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        out.write(b, off, len); // FilterOutputStream would write byte by byte
                    }

                    @Override
                    public void close() throws IOException {
                        flush(); // the channel is closed below, after force()
                    }
                });
                buffered.flush();
                channel.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            deleteQuietly(tmp, e);
            throw new CycleDiffusionException("cannot write " + target + ": the file system of " + dir
                    + " does not support an atomic rename", e);
        } catch (IOException e) {
            deleteQuietly(tmp, e);
            throw new CycleDiffusionException("cannot write " + target + ": " + e, e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(tmp, e);
            throw e;
        }
        syncDirectory(dir);
    }

    private static String randomSuffix() {
        byte[] b = new byte[6];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static void deleteQuietly(Path tmp, Throwable cause) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException suppressed) {
            cause.addSuppressed(suppressed);
        }
    }

    /** Makes the rename itself durable where the platform allows opening a directory (Linux does). */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // Not possible on every platform; the rename is atomic regardless.
        }
    }
}
