package org.cyclediffusion.spark;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;

/**
 * Images in and out of any Hadoop file system, through a local temporary file (core reads and
 * writes images by local path, with the same decoding and PNG metadata as the CLI).
 */
final class HadoopFiles {
    private HadoopFiles() {
    }

    static byte[] readAll(FileSystem fs, Path path) throws IOException {
        try (InputStream in = fs.open(path)) {
            return in.readAllBytes();
        }
    }

    /** Decodes image bytes as {@link ImageFiles#read} decodes a file; messages name {@code source}. */
    static RgbImage decode(byte[] bytes, String source) throws IOException {
        String name = source.toLowerCase(Locale.ROOT);
        String suffix = name.endsWith(".jpg") || name.endsWith(".jpeg") ? ".jpg" : ".png";
        java.nio.file.Path tmp = Files.createTempFile("cyclediffusion-input-", suffix);
        try {
            Files.write(tmp, bytes);
            return ImageFiles.read(tmp);
        } catch (CycleDiffusionException e) {
            throw new InvalidInputException(e.getMessage().replace(tmp.toString(), source), e);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Writes a PNG so that {@code dir/name} appears complete or not at all: the bytes go to a hidden
     * temporary name in the same folder, which is then renamed (an existing file of the same name,
     * from an attempt whose result was lost, is replaced).
     */
    static void writePng(FileSystem fs, Path dir, String name, RgbImage image, Map<String, String> text) throws IOException {
        java.nio.file.Path local = Files.createTempFile("cyclediffusion-output-", ".png");
        try {
            Files.delete(local); // ImageFiles.writePng creates it atomically itself
            ImageFiles.writePng(local, image, text);
            Path tmp = new Path(dir, "." + name + "." + UUID.randomUUID() + ".tmp");
            fs.copyFromLocalFile(false, true, new Path(local.toUri()), tmp);
            Path target = new Path(dir, name);
            if (fs.exists(target)) {
                fs.delete(target, false);
            }
            if (!fs.rename(tmp, target)) {
                fs.delete(tmp, false);
                throw new IOException("cannot rename " + tmp + " to " + target);
            }
        } finally {
            Files.deleteIfExists(local);
        }
    }
}
