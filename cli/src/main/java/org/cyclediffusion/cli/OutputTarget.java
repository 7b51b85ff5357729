package org.cyclediffusion.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.io.NpyWriter;
import org.cyclediffusion.core.pipeline.EditProvenance;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Where an edit's results go, decided and checked before any model loads: the format (from
 * {@code --output-format} or the extension, refusing a mismatch), the file names
 * ({@code NAME-k.EXT} for several images), and that each can be written and is not an input.
 * Results are staged next to their targets and renamed into place together at the end, so an
 * interrupted or failed run leaves the output folder as it was.
 */
final class OutputTarget {
    enum Format {
        PNG("png"), JPEG("jpg"), NPY("npy");

        final String extension;

        Format(String extension) {
            this.extension = extension;
        }
    }

    static final int DEFAULT_QUALITY = 90;

    private final Path output;
    private final Format format;
    private final int quality;
    private final List<Path> paths;
    private final StagedFiles staged = new StagedFiles();

    private OutputTarget(Path output, Format format, int quality, List<Path> paths) {
        this.output = output;
        this.format = format;
        this.quality = quality;
        this.paths = paths;
    }

    /**
     * @param formatFlag  {@code --output-format} or null
     * @param quality     {@code --quality} or null
     * @param images      output images the request makes (rows × images per prompt)
     * @param inputs      the input image files, never to be written
     * @throws Errors.UsageException naming the flag when anything is wrong
     */
    static OutputTarget plan(Path output, String formatFlag, Integer quality, int images, List<Path> inputs) {
        return plan(output, formatFlag, quality, images, inputs, "input image");
    }

    /** As {@link #plan(Path, String, Integer, int, List)}; {@code inputKind} names the inputs in messages (e.g. {@code code}). */
    static OutputTarget plan(Path output, String formatFlag, Integer quality, int images, List<Path> inputs, String inputKind) {
        Format format = format(output, formatFlag);
        if (quality != null && format != Format.JPEG) {
            throw new Errors.UsageException("--quality " + quality + ": only JPEG output has a quality; --output " + output + " is "
                    + format.name());
        }
        if (quality != null && (quality < 1 || quality > 100)) {
            throw new Errors.UsageException("--quality " + quality + ": expected 1 to 100");
        }
        List<Path> paths = format == Format.NPY ? List.of(output) : numbered(output, images, format.extension);
        OutputTarget t = new OutputTarget(output, format, quality == null ? DEFAULT_QUALITY : quality, paths);
        t.check(inputs, inputKind);
        return t;
    }

    Format format() {
        return format;
    }

    List<Path> paths() {
        return paths;
    }

    private static Format format(Path output, String flag) {
        String name = output.getFileName() == null ? "" : output.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String ext = dot > 0 ? name.substring(dot + 1).toLowerCase(Locale.ROOT) : "";
        Format fromExtension = switch (ext) {
            case "" -> null;
            case "png" -> Format.PNG;
            case "jpg", "jpeg" -> Format.JPEG;
            case "npy" -> Format.NPY;
            case "webp" -> throw new Errors.UsageException("--output " + output + ": WebP output is not supported (WebP images are"
                    + " read, not written); use --output NAME.png (lossless) or NAME.jpg (--quality 1-100)");
            default -> throw new Errors.UsageException("--output " + output + ": unknown extension '." + ext
                    + "'; expected .png, .jpg (or .jpeg) or .npy");
        };
        if (flag == null) {
            return fromExtension == null ? Format.PNG : fromExtension;
        }
        Format fromFlag = switch (flag.toLowerCase(Locale.ROOT)) {
            case "png", "pil" -> Format.PNG;
            case "jpg", "jpeg" -> Format.JPEG;
            case "npy", "np" -> Format.NPY;
            default -> throw new Errors.UsageException("--output-format '" + flag + "': expected png, jpg or npy (or diffusers' pil, np)");
        };
        if (fromExtension != null && fromExtension != fromFlag) {
            throw new Errors.UsageException("--output-format " + flag + " and --output " + output + " disagree: the extension says "
                    + fromExtension.name() + "; name the file ." + fromFlag.extension + " or drop --output-format");
        }
        return fromFlag;
    }

    /** NAME.EXT for one image, NAME-0.EXT, NAME-1.EXT, ... for several, in diffusers' order. */
    static List<Path> numbered(Path output, int count, String extension) {
        if (count == 1) {
            return List.of(output);
        }
        String name = output.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        String ext = dot > 0 ? name.substring(dot) : "." + extension;
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(output.resolveSibling(stem + "-" + i + ext));
        }
        return out;
    }

    private void check(List<Path> inputs, String inputKind) {
        Path abs = output.toAbsolutePath().normalize();
        if (Files.isDirectory(abs)) {
            throw new Errors.UsageException("--output " + output + " is a directory; give a file name, e.g. --output "
                    + output.resolve("out." + format.extension));
        }
        Path dir = abs.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new Errors.UsageException("--output " + output + ": directory " + dir + " does not exist");
        }
        probeWritable(dir);
        for (Path t : paths) {
            Path ta = t.toAbsolutePath().normalize();
            if (Files.isDirectory(ta)) {
                throw new Errors.UsageException("--output " + output + ": " + t + " would be written, and it is a directory");
            }
            for (Path in : inputs) {
                if (sameFile(ta, in)) {
                    throw new Errors.UsageException("--output " + output + ": " + t + " is the " + inputKind + " " + in + "; choose another file");
                }
            }
        }
    }

    private static boolean sameFile(Path target, Path input) {
        try {
            if (Files.exists(target) && Files.exists(input)) {
                return Files.isSameFile(target, input);
            }
        } catch (IOException e) {
            // fall through to comparing the names
        }
        return target.equals(input.toAbsolutePath().normalize());
    }

    /** Creates and removes a file: the only test that sees read-only mounts, ACLs and permissions alike (root included). */
    private void probeWritable(Path dir) {
        Path probe = null;
        try {
            probe = Files.createTempFile(dir, ".cyclediffusion-probe-", ".tmp");
        } catch (IOException | SecurityException e) {
            throw new Errors.UsageException("--output " + output + ": cannot write in directory " + dir + " ("
                    + (e.getMessage() != null && e.getMessage().contains("Read-only") ? "read-only file system" : reason(e)) + ")");
        } finally {
            if (probe != null) {
                try {
                    Files.deleteIfExists(probe);
                } catch (IOException ignored) {
                    // a probe we could create we can normally delete; nothing else to do
                }
            }
        }
    }

    private static String reason(Exception e) {
        String s = e.toString();
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        return s;
    }

    /** What the writing phase names: the file, or how many files and the first. */
    String description() {
        return format == Format.NPY || paths.size() == 1 ? output.toString() : paths.size() + " files " + paths.get(0) + " …";
    }

    /**
     * Writes the results: stages each (the npy array, or every image with its own row's
     * provenance), then renames them all into place unless an interrupt came first; whatever was
     * staged and not published is removed.
     */
    void write(EditResult result, EditProvenance provenance, Interrupts interrupts) {
        try {
            if (format == Format.NPY) {
                stageArray(result.imagesNp());
            } else {
                for (int i = 0; i < paths.size(); i++) {
                    interrupts.check();
                    stageImage(i, result.images().get(i), provenance.pngText(i));
                }
            }
            interrupts.commit(this::commit);
        } finally {
            discard();
        }
    }

    /** Writes image {@code i} to a hidden file beside its target; {@link #commit} renames it into place. */
    void stageImage(int i, RgbImage image, java.util.Map<String, String> text) {
        Path stage = staged.stage(paths.get(i));
        if (format == Format.JPEG) {
            ImageFiles.writeJpeg(stage, image, quality, text.get("parameters"));
        } else {
            ImageFiles.writePng(stage, image, text);
        }
    }

    /** Writes the {@code [N, H, W, 3]} float array of an npy output to a hidden file beside the target. */
    void stageArray(FloatTensor np) {
        NpyWriter.write(staged.stage(output), np);
    }

    /** Renames every staged file onto its target (each rename atomic). */
    void commit() {
        staged.publish();
    }

    /** Removes staged files that were not committed (after a failure or an interrupt). */
    void discard() {
        staged.close();
    }

    /**
     * Writes one file that is not an image (a latent code) as results are written: {@code write}
     * fills a hidden file beside {@code target}, which is renamed onto it unless an interrupt came
     * first; otherwise, or when anything fails, the hidden file goes and {@code target} is as it was.
     */
    static void writeStaged(Path target, java.util.function.Consumer<Path> write, Interrupts interrupts) {
        try (StagedFiles files = new StagedFiles()) {
            write.accept(files.stage(target));
            interrupts.commit(files::publish);
        }
    }
}
