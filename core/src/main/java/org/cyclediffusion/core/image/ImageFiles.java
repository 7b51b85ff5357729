package org.cyclediffusion.core.image;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.PixelInterleavedSampleModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.io.AtomicFiles;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

/**
 * Reads PNG and JPEG files into {@link RgbImage}s with the pixels that
 * {@code PIL.Image.open(path).convert("RGB")} (Pillow 9.4.0) gives, and writes PNGs with text
 * chunks (provenance), atomically.
 *
 * <p>What Pillow 9.4 does, and so what {@link #read} does (PngImagePlugin {@code _MODES},
 * Unpack.c, Convert.c): gray "L" is replicated to R = G = B; alpha (RGBA, LA) is dropped, not
 * composited; palette indices look up the PLTE entries, and indices beyond the palette take the
 * gray ramp Pillow initialises palettes with; 1-bit gray is 0/255, 2- and 4-bit gray are scaled by
 * 0x55 and 0x11; 16-bit RGB, RGBA and gray+alpha keep the most significant byte of each sample;
 * 16-bit gray opens as mode "I" (0..65535) and its conversion to RGB clips at 255. tRNS
 * transparency does not change colours. Colour profiles (iCCP, gAMA) and EXIF orientation are
 * ignored, as {@code convert("RGB")} ignores them. JPEGs are decoded by ImageIO's libjpeg (integer
 * IDCT, fancy upsampling, as libjpeg-turbo in Pillow); gray JPEGs are replicated, CMYK/YCCK JPEGs
 * are rejected.
 */
public final class ImageFiles {
    private static final String PNG_FORMAT = "javax_imageio_png_1.0";
    /** PIL.Image.MAX_IMAGE_PIXELS is 1024 · 1024 · 1024 / 4 / 3; above twice that, open() raises DecompressionBombError. */
    static final long MAX_PIXELS = 2L * (1024 * 1024 * 1024 / 4 / 3);

    private ImageFiles() {
    }

    /**
     * The image at {@code path} as 8-bit RGB: PNG, JPEG or WebP (through TwelveMonkeys' ImageIO plug-in).
     *
     * @throws CycleDiffusionException naming the file when it is missing, unreadable, not a PNG,
     *     JPEG or WebP, or of a kind that is not supported
     */
    public static RgbImage read(Path path) {
        if (!Files.exists(path)) {
            throw new InvalidInputException("image file " + path + " does not exist");
        }
        if (Files.isDirectory(path)) {
            throw new InvalidInputException("image file " + path + " is a directory, expected a PNG, JPEG or WebP file");
        }
        if (!Files.isReadable(path)) {
            throw new InvalidInputException("image file " + path + " is not readable (permissions)");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(path.toFile())) {
            return decode(in, "image file " + path, MAX_PIXELS);
        } catch (IOException e) {
            throw new InvalidInputException("cannot decode image file " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * An image held in memory (an upload), decoded as {@link #read(Path)} decodes files. The
     * dimensions are read from the header and checked against {@code maxPixels} before any pixel
     * is decoded.
     *
     * @param name what to call the image in messages, e.g. {@code upload "cat.png"}
     * @throws InvalidInputException naming the image when it is empty, not a PNG or JPEG, truncated
     *     or larger than {@code maxPixels}
     */
    public static RgbImage read(byte[] data, String name, long maxPixels) {
        if (data.length == 0) {
            throw new InvalidInputException(name + " is empty (0 bytes), expected a PNG, JPEG or WebP image");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(new java.io.ByteArrayInputStream(data))) {
            return decode(in, name, Math.min(maxPixels, MAX_PIXELS));
        } catch (IOException e) {
            throw new InvalidInputException("cannot decode " + name + ": " + e.getMessage(), e);
        }
    }

    private static RgbImage decode(ImageInputStream in, String what, long maxPixels) throws IOException {
        try {
            if (in == null) {
                throw new InvalidInputException("cannot open " + what);
            }
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new InvalidInputException(what + " is not a PNG, JPEG or WebP image (its content is not a recognised image format)");
            }
            ImageReader reader = readers.next();
            try {
                String format = reader.getFormatName().toLowerCase(Locale.ROOT);
                reader.setInput(in, true, false);
                switch (format) {
                    case "png":
                        return decodePng(what, reader, maxPixels);
                    case "jpeg":
                    case "jpg":
                        return decodeJpeg(what, reader, maxPixels);
                    case "webp":
                        return decodeWebp(what, reader, maxPixels);
                    default:
                        throw new InvalidInputException(what + " is a " + format.toUpperCase(Locale.ROOT)
                                + " image; supported formats are PNG, JPEG and WebP");
                }
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof CycleDiffusionException cde) {
                throw cde;
            }
            throw new InvalidInputException("cannot decode " + what + ": " + e.getMessage(), e);
        }
    }

    private static RgbImage decodePng(String path, ImageReader reader, long maxPixels) throws IOException {
        checkSize(path, reader, maxPixels);
        IIOMetadata metadata = reader.getImageMetadata(0);
        Node root = metadata.getAsTree(PNG_FORMAT);
        Node ihdr = child(root, "IHDR");
        if (ihdr == null) {
            throw new InvalidInputException(path + " is a PNG without an IHDR chunk");
        }
        String colorType = attr(ihdr, "colorType");
        int bitDepth = Integer.parseInt(attr(ihdr, "bitDepth"));
        BufferedImage image = reader.read(0);
        int bands = image.getRaster().getNumBands();
        RowConverter convert;
        switch (colorType) {
            case "Palette":
                if (image.getColorModel() instanceof IndexColorModel && bands == 1) {
                    int[] palette = pillowPalette(root);
                    convert = (s, n, rgb, o) -> {
                        for (int i = 0; i < n; i++) {
                            int p = palette[s[i] & 0xFF];
                            rgb[o + i * 3] = (byte) (p >> 16);
                            rgb[o + i * 3 + 1] = (byte) (p >> 8);
                            rgb[o + i * 3 + 2] = (byte) p;
                        }
                    };
                } else {
                    convert = rgbBands(bands, 8); // a reader that expanded the palette itself
                }
                break;
            case "Grayscale":
            case "GrayAlpha":
                boolean withAlpha = colorType.equals("GrayAlpha");
                convert = (s, n, rgb, o) -> {
                    for (int i = 0; i < n; i++) {
                        byte v = (byte) gray(s[i * bands], bitDepth, withAlpha);
                        rgb[o + i * 3] = v;
                        rgb[o + i * 3 + 1] = v;
                        rgb[o + i * 3 + 2] = v;
                    }
                };
                break;
            case "RGB":
            case "RGBAlpha":
                if (bands < 3) {
                    throw new InvalidInputException(path + ": PNG colour type " + colorType
                            + " decoded to " + bands + " bands, expected at least 3");
                }
                convert = rgbBands(bands, bitDepth);
                break;
            default:
                throw new InvalidInputException(path + " has unsupported PNG colour type " + colorType);
        }
        return toRgb(image.getRaster(), convert);
    }

    /** Converts one row of raw raster samples (no colour model applied) to RGB bytes at {@code offset}. */
    @FunctionalInterface
    private interface RowConverter {
        void convert(int[] samples, int pixels, byte[] rgb, int offset);
    }

    /** Row by row, so that a large image never needs an int per sample of the whole image. */
    private static RgbImage toRgb(Raster raster, RowConverter convert) {
        int w = raster.getWidth();
        int h = raster.getHeight();
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
        int[] row = null;
        for (int y = 0; y < h; y++) {
            row = raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, row);
            convert.convert(row, w, rgb, y * w * 3);
        }
        return new RgbImage(w, h, rgb);
    }

    /** One gray sample as Pillow's {@code convert("RGB")} sees it. */
    private static int gray(int v, int bitDepth, boolean withAlpha) {
        switch (bitDepth) {
            case 1:
                return v != 0 ? 255 : 0; // mode "1", bit2rgb
            case 2:
                return v * 0x55; // unpackL2
            case 4:
                return v * 0x11; // unpackL4
            case 8:
                return v;
            case 16:
                // "LA;16B" keeps the high byte; "I;16B" opens as mode I and i2rgb clips at 255.
                return withAlpha ? v >> 8 : Math.min(v, 255);
            default:
                throw new IllegalStateException("gray bit depth " + bitDepth);
        }
    }

    /** The first three bands; of 16-bit samples the most significant byte ("RGB;16B", "RGBA;16B"). */
    private static RowConverter rgbBands(int bands, int bitDepth) {
        int shift = bitDepth == 16 ? 8 : 0;
        return (s, n, rgb, o) -> {
            for (int i = 0; i < n; i++) {
                rgb[o + i * 3] = (byte) (s[i * bands] >> shift);
                rgb[o + i * 3 + 1] = (byte) (s[i * bands + 1] >> shift);
                rgb[o + i * 3 + 2] = (byte) (s[i * bands + 2] >> shift);
            }
        };
    }

    /** 256 entries 0xRRGGBB: the PLTE entries over Pillow's initial gray ramp (ImagingPaletteNew). */
    private static int[] pillowPalette(Node root) {
        int[] palette = new int[256];
        for (int i = 0; i < 256; i++) {
            palette[i] = i << 16 | i << 8 | i;
        }
        Node plte = child(root, "PLTE");
        if (plte != null) {
            for (Node e = plte.getFirstChild(); e != null; e = e.getNextSibling()) {
                int index = Integer.parseInt(attr(e, "index"));
                palette[index] = Integer.parseInt(attr(e, "red")) << 16
                        | Integer.parseInt(attr(e, "green")) << 8
                        | Integer.parseInt(attr(e, "blue"));
            }
        }
        return palette;
    }

    private static RgbImage decodeJpeg(String path, ImageReader reader, long maxPixels) throws IOException {
        checkSize(path, reader, maxPixels);
        BufferedImage image;
        try {
            image = reader.read(0);
        } catch (javax.imageio.IIOException e) {
            throw new InvalidInputException("cannot decode JPEG " + path + ": " + e.getMessage()
                    + " (CMYK and YCCK JPEGs are not supported; convert the image to RGB)", e);
        }
        int bands = image.getRaster().getNumBands();
        if (bands == 1) {
            return toRgb(image.getRaster(), (s, n, rgb, o) -> {
                for (int i = 0; i < n; i++) {
                    rgb[o + i * 3] = rgb[o + i * 3 + 1] = rgb[o + i * 3 + 2] = (byte) s[i];
                }
            });
        }
        if (bands == 3) {
            return toRgb(image.getRaster(), rgbBands(3, 8));
        }
        throw new InvalidInputException(path + " is a JPEG with " + bands
                + " colour components; supported are gray (1) and RGB/YCbCr (3)");
    }

    /**
     * WebP (lossy, lossless, with or without alpha) through TwelveMonkeys' pure-Java reader. As
     * Pillow's {@code convert("RGB")}, alpha is dropped, not composited. Lossy WebP decoders may
     * differ from libwebp (which Pillow uses) by a level here and there.
     */
    private static RgbImage decodeWebp(String path, ImageReader reader, long maxPixels) throws IOException {
        checkSize(path, reader, maxPixels);
        BufferedImage image = reader.read(0);
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                rgb[o] = (byte) (row[x] >> 16);
                rgb[o + 1] = (byte) (row[x] >> 8);
                rgb[o + 2] = (byte) row[x];
            }
        }
        return new RgbImage(w, h, rgb);
    }

    /**
     * Pillow's decompression-bomb guard: {@code Image.open} refuses images of more than
     * 2 × MAX_IMAGE_PIXELS (2 × 89,478,485) pixels; checked from the header, before decoding.
     * A server passes its own, lower limit.
     */
    private static void checkSize(String what, ImageReader reader, long maxPixels) throws IOException {
        long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
        if (pixels > maxPixels) {
            throw new ImageTooLargeException(what + " is " + reader.getWidth(0) + "x" + reader.getHeight(0)
                    + " = " + pixels + " pixels, more than the limit of " + maxPixels
                    + (maxPixels == MAX_PIXELS ? " (Pillow's decompression-bomb limit); it could be a decompression bomb" : ""));
        }
    }

    /**
     * Writes {@code image} as an 8-bit RGB PNG with one text chunk per entry of {@code text}, in
     * the map's order: {@code tEXt} when the value is Latin-1 (the PNG text encoding), {@code iTXt}
     * (UTF-8) otherwise. The file appears atomically ({@link AtomicFiles}).
     *
     * @throws CycleDiffusionException naming the file or the keyword when a keyword is not a valid
     *     PNG keyword or writing fails
     */
    public static void writePng(Path path, RgbImage image, Map<String, String> text) {
        Map<String, String> entries = checkedText(path.toString(), text);
        AtomicFiles.write(path, out -> encodePng(out, image, entries));
    }

    /**
     * The bytes {@link #writePng} writes to a file for the same image and text: for answers that
     * carry the PNG itself (the server), so they equal the CLI's files byte for byte.
     */
    public static byte[] pngBytes(RgbImage image, Map<String, String> text) {
        Map<String, String> entries = checkedText("PNG", text);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try {
            encodePng(out, image, entries);
        } catch (IOException e) {
            throw new CycleDiffusionException("cannot encode PNG: " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    private static Map<String, String> checkedText(String path, Map<String, String> text) {
        Map<String, String> entries = text == null ? Map.of() : text;
        for (Map.Entry<String, String> e : entries.entrySet()) {
            checkKeyword(path, e.getKey());
            if (e.getValue() == null) {
                throw new CycleDiffusionException("cannot write " + path + ": text value of \"" + e.getKey() + "\" is null");
            }
            if (e.getValue().indexOf('\0') >= 0) {
                throw new CycleDiffusionException("cannot write " + path + ": text value of \"" + e.getKey()
                        + "\" contains a NUL character");
            }
        }
        return entries;
    }

    private static void encodePng(java.io.OutputStream out, RgbImage image, Map<String, String> entries) throws IOException {
        BufferedImage buffered = toBufferedImage(image);
        ImageWriter writer = ImageIO.getImageWritersByFormatName("png").next();
        // A memory cache: ImageIO's default file cache would put temporary files in java.io.tmpdir.
        try (MemoryCacheImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
            writer.setOutput(ios);
            ImageWriteParam param = writer.getDefaultWriteParam();
            IIOMetadata metadata = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(buffered), param);
            if (!entries.isEmpty()) {
                metadata.mergeTree(PNG_FORMAT, textTree(entries));
            }
            writer.write(null, new IIOImage(buffered, null, metadata), param);
        } finally {
            writer.dispose();
        }
    }

    /**
     * Writes {@code image} as a baseline JPEG of the given quality (1–100, as Pillow's
     * {@code quality}; ImageIO's scale is that divided by 100), with {@code comment} in a COM
     * segment when not null. The file appears atomically ({@link AtomicFiles}).
     */
    public static void writeJpeg(Path path, RgbImage image, int quality, String comment) {
        if (quality < 1 || quality > 100) {
            throw new IllegalArgumentException("JPEG quality " + quality + ": expected 1 to 100");
        }
        BufferedImage buffered = toBufferedImage(image);
        AtomicFiles.write(path, out -> {
            ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
            try (MemoryCacheImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
                writer.setOutput(ios);
                ImageWriteParam param = writer.getDefaultWriteParam();
                param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                param.setCompressionQuality(quality / 100f);
                IIOMetadata metadata = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(buffered), param);
                if (comment != null) {
                    String jpegFormat = "javax_imageio_jpeg_image_1.0";
                    Node root = metadata.getAsTree(jpegFormat);
                    Node markers = child(root, "markerSequence");
                    IIOMetadataNode com = new IIOMetadataNode("com");
                    com.setUserObject(comment.getBytes(StandardCharsets.UTF_8));
                    markers.appendChild(com);
                    metadata.setFromTree(jpegFormat, root);
                }
                writer.write(null, new IIOImage(buffered, null, metadata), param);
            } finally {
                writer.dispose();
            }
        });
    }

    /** The text chunks (tEXt, zTXt, iTXt) of a PNG file, in file order. */
    public static Map<String, String> readPngText(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new CycleDiffusionException("PNG file " + path + " does not exist");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(path.toFile())) {
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName("png");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, false);
                Node root = reader.getImageMetadata(0).getAsTree(PNG_FORMAT);
                Map<String, String> text = new LinkedHashMap<>();
                for (Node chunk = root.getFirstChild(); chunk != null; chunk = chunk.getNextSibling()) {
                    String name = chunk.getNodeName();
                    if (name.equals("tEXt") || name.equals("zTXt") || name.equals("iTXt")) {
                        String valueAttribute = name.equals("tEXt") ? "value" : "text";
                        for (Node e = chunk.getFirstChild(); e != null; e = e.getNextSibling()) {
                            text.put(attr(e, "keyword"), attr(e, valueAttribute));
                        }
                    }
                }
                return text;
            } finally {
                reader.dispose();
            }
        } catch (IOException e) {
            throw new CycleDiffusionException("cannot read PNG text of " + path + ": " + e.getMessage(), e);
        }
    }

    private static IIOMetadataNode textTree(Map<String, String> entries) {
        IIOMetadataNode root = new IIOMetadataNode(PNG_FORMAT);
        IIOMetadataNode tEXt = new IIOMetadataNode("tEXt");
        IIOMetadataNode iTXt = new IIOMetadataNode("iTXt");
        for (Map.Entry<String, String> e : entries.entrySet()) {
            if (StandardCharsets.ISO_8859_1.newEncoder().canEncode(e.getValue())) {
                IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                entry.setAttribute("keyword", e.getKey());
                entry.setAttribute("value", e.getValue());
                tEXt.appendChild(entry);
            } else {
                IIOMetadataNode entry = new IIOMetadataNode("iTXtEntry");
                entry.setAttribute("keyword", e.getKey());
                entry.setAttribute("compressionFlag", "FALSE");
                entry.setAttribute("compressionMethod", "0");
                entry.setAttribute("languageTag", "");
                entry.setAttribute("translatedKeyword", "");
                entry.setAttribute("text", e.getValue());
                iTXt.appendChild(entry);
            }
        }
        if (tEXt.hasChildNodes()) {
            root.appendChild(tEXt);
        }
        if (iTXt.hasChildNodes()) {
            root.appendChild(iTXt);
        }
        return root;
    }

    /** PNG keywords: 1–79 Latin-1 printable characters, no leading, trailing or double spaces. */
    private static void checkKeyword(String path, String keyword) {
        String problem = null;
        if (keyword == null || keyword.isEmpty() || keyword.length() > 79) {
            problem = "must be 1 to 79 characters long";
        } else if (keyword.startsWith(" ") || keyword.endsWith(" ") || keyword.contains("  ")) {
            problem = "must not start or end with a space or contain two spaces in a row";
        } else {
            for (int i = 0; i < keyword.length(); i++) {
                char c = keyword.charAt(i);
                if (!(c >= 32 && c <= 126 || c >= 161 && c <= 255)) {
                    problem = "must be printable Latin-1 (character U+" + String.format("%04X", (int) c) + " is not)";
                    break;
                }
            }
        }
        if (problem != null) {
            throw new CycleDiffusionException("cannot write " + path + ": PNG text keyword \"" + keyword + "\" " + problem);
        }
    }

    /** A BufferedImage that shares the RgbImage's bytes (R, G, B interleaved), without copying. */
    private static BufferedImage toBufferedImage(RgbImage image) {
        int w = image.width();
        int h = image.height();
        DataBufferByte buffer = new DataBufferByte(image.rgb(), image.rgb().length);
        PixelInterleavedSampleModel sm = new PixelInterleavedSampleModel(DataBuffer.TYPE_BYTE, w, h, 3, w * 3, new int[] {0, 1, 2});
        WritableRaster raster = Raster.createWritableRaster(sm, buffer, null);
        ComponentColorModel cm = new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB), false, false,
                Transparency.OPAQUE, DataBuffer.TYPE_BYTE);
        return new BufferedImage(cm, raster, false, null);
    }

    private static Node child(Node parent, String name) {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeName().equals(name)) {
                return n;
            }
        }
        return null;
    }

    private static String attr(Node node, String name) {
        NamedNodeMap attrs = node.getAttributes();
        Node a = attrs == null ? null : attrs.getNamedItem(name);
        return a == null ? null : a.getNodeValue();
    }
}
