package org.cyclediffusion.safety;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.image.PilResample;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * transformers 4.35.2 {@code CLIPImageProcessor} (the pipeline's {@code feature_extractor}), for
 * 8-bit RGB images: resize so the shortest edge is {@code size["shortest_edge"]} with Pillow's
 * filter, centre crop, rescale by {@code rescale_factor}, normalise with the CLIP mean/std, and stack
 * as {@code pixel_values [B, 3, crop_h, crop_w]}.
 *
 * <p>Numbers follow numpy exactly: the resize is Pillow's 8-bit fixed-point resampling
 * ({@link PilResample}); the crop works on the uint8 pixels; rescale multiplies the uint8 value by
 * the Python float {@code rescale_factor} in float64 and casts to float32; normalise computes
 * {@code (x - mean) / std} in float32 with float32 mean and std.
 */
public final class ClipImageProcessor {
    /** transformers' {@code OPENAI_CLIP_MEAN} / {@code OPENAI_CLIP_STD}, the defaults. */
    static final double[] OPENAI_CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
    static final double[] OPENAI_CLIP_STD = {0.26862954, 0.26130258, 0.27577711};

    /**
     * Keys transformers accepts without using them for the computation: they name the class that
     * wrote the file. Any other unread key is warned about with the file named.
     */
    private static final Set<String> METADATA_KEYS = Set.of("feature_extractor_type", "image_processor_type", "processor_class");

    /** PIL's {@code Image.Resampling} values as {@code resample} stores them. */
    private static final Map<Integer, String> PIL_RESAMPLING = Map.of(0, "NEAREST", 1, "LANCZOS", 2, "BILINEAR", 3, "BICUBIC",
            4, "BOX", 5, "HAMMING");

    /**
     * The resize target after {@code get_size_dict}: either a shortest edge (keeping the aspect
     * ratio) or a fixed height × width.
     */
    record ResizeSize(int shortestEdge, int height, int width) {
        static ResizeSize shortest(int edge) {
            return new ResizeSize(edge, -1, -1);
        }

        static ResizeSize exact(int height, int width) {
            return new ResizeSize(-1, height, width);
        }

        boolean isShortestEdge() {
            return shortestEdge > 0;
        }
    }

    private final String source;
    private final boolean doResize;
    private final ResizeSize size;
    private final PilResample.Filter resample;
    private final boolean doCenterCrop;
    private final int cropHeight;
    private final int cropWidth;
    private final boolean doRescale;
    private final double rescaleFactor;
    private final boolean doNormalize;
    private final float[] imageMean;
    private final float[] imageStd;
    private final List<String> unknownKeys;

    private ClipImageProcessor(JsonConfig config) {
        this.source = config.source();
        this.doResize = config.getBoolean("do_resize", true);
        ResizeSize parsed = parseSize(config);
        // transformers 4.35: Kosmos-2's legacy flag turns the shortest edge into a square.
        if (config.getBoolean("use_square_size", false) && parsed.isShortestEdge()) {
            parsed = ResizeSize.exact(parsed.shortestEdge(), parsed.shortestEdge());
        }
        this.size = parsed;
        this.resample = parseResample(config);
        this.doCenterCrop = config.getBoolean("do_center_crop", true);
        int[] crop = parseCropSize(config);
        this.cropHeight = crop[0];
        this.cropWidth = crop[1];
        this.doRescale = config.getBoolean("do_rescale", true);
        this.rescaleFactor = config.getDouble("rescale_factor", 1.0 / 255);
        this.doNormalize = config.getBoolean("do_normalize", true);
        this.imageMean = channelValues(config, "image_mean", OPENAI_CLIP_MEAN);
        this.imageStd = channelValues(config, "image_std", OPENAI_CLIP_STD);
        // Our images are RGB already (decoded VAE output); the flag has nothing to convert.
        config.getBoolean("do_convert_rgb", true);
        this.unknownKeys = List.copyOf(config.warnUnknownKeys(METADATA_KEYS));
    }

    /** A processor configured by a {@code preprocessor_config.json}; unknown keys are warned about. */
    public static ClipImageProcessor fromConfig(JsonConfig config) {
        return new ClipImageProcessor(config);
    }

    /** The {@code feature_extractor/preprocessor_config.json} of a model folder. */
    public static ClipImageProcessor fromFolder(ModelFolder folder) {
        folder.requireFile("feature_extractor", "preprocessor_config.json");
        return fromConfig(folder.config("feature_extractor", "preprocessor_config.json"));
    }

    /** Keys of the config file that no field of {@code CLIPImageProcessor} reads (already logged). */
    public List<String> unknownKeys() {
        return unknownKeys;
    }

    /** Height and width of the {@code pixel_values} this processor produces for an image of the given size. */
    public int[] outputSize(int width, int height) {
        int[] hw = doResize ? resizeTarget(width, height) : new int[] {height, width};
        return doCenterCrop ? new int[] {cropHeight, cropWidth} : hw;
    }

    /**
     * {@code feature_extractor(images, return_tensors="pt").pixel_values}: {@code [B, 3, h, w]}
     * float32. All images must come out the same size (as they do when they share a size, or with
     * centre crop on), since transformers stacks them.
     */
    public FloatTensor preprocess(List<RgbImage> images) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("no images to preprocess");
        }
        float[][] planes = new float[images.size()][];
        int outH = -1;
        int outW = -1;
        for (int i = 0; i < images.size(); i++) {
            RgbImage img = images.get(i);
            if (doResize) {
                int[] hw = resizeTarget(img.width(), img.height());
                img = PilResample.resize(img, hw[1], hw[0], resample);
            }
            if (doCenterCrop) {
                img = centerCrop(img, cropHeight, cropWidth);
            }
            if (i > 0 && (img.height() != outH || img.width() != outW)) {
                throw new IllegalArgumentException("images preprocess to different sizes (" + outW + "x" + outH + " and "
                        + img.sizeString() + "); pixel_values needs one size");
            }
            outH = img.height();
            outW = img.width();
            planes[i] = toChannelsFirst(img);
        }
        int n = 3 * outH * outW;
        float[] out = new float[images.size() * n];
        for (int i = 0; i < planes.length; i++) {
            System.arraycopy(planes[i], 0, out, i * n, n);
        }
        return new FloatTensor(out, images.size(), 3, outH, outW);
    }

    /**
     * transformers' {@code get_resize_output_image_size}: (height, width). For a shortest edge s,
     * the long side becomes {@code int(s * long / short)} (Python true division, then truncation).
     */
    int[] resizeTarget(int width, int height) {
        if (!size.isShortestEdge()) {
            return new int[] {size.height(), size.width()};
        }
        int shortSide = Math.min(width, height);
        int longSide = Math.max(width, height);
        int newShort = size.shortestEdge();
        int newLong = (int) ((double) ((long) newShort * longSide) / shortSide);
        return width <= height ? new int[] {newLong, newShort} : new int[] {newShort, newLong};
    }

    /**
     * transformers' {@code center_crop}: offsets {@code (orig - crop) // 2}; an image smaller than the
     * crop is first padded with zeros, centred with {@code ceil((new - orig) / 2)}.
     */
    static RgbImage centerCrop(RgbImage img, int cropHeight, int cropWidth) {
        int h = img.height();
        int w = img.width();
        int top = Math.floorDiv(h - cropHeight, 2);
        int left = Math.floorDiv(w - cropWidth, 2);
        int padTop = 0;
        int padLeft = 0;
        int newH = h;
        int newW = w;
        if (!(top >= 0 && top + cropHeight <= h && left >= 0 && left + cropWidth <= w)) {
            newH = Math.max(cropHeight, h);
            newW = Math.max(cropWidth, w);
            padTop = (newH - h + 1) / 2;
            padLeft = (newW - w + 1) / 2;
            top += padTop;
            left += padLeft;
        }
        // The padded canvas is zero outside the image; with the offsets above the crop never leaves it.
        byte[] src = img.rgb();
        byte[] out = new byte[cropHeight * cropWidth * 3];
        for (int y = 0; y < cropHeight; y++) {
            int sy = top + y - padTop;
            if (sy < 0 || sy >= h) {
                continue;
            }
            for (int x = 0; x < cropWidth; x++) {
                int sx = left + x - padLeft;
                if (sx < 0 || sx >= w) {
                    continue;
                }
                System.arraycopy(src, (sy * w + sx) * 3, out, (y * cropWidth + x) * 3, 3);
            }
        }
        return new RgbImage(cropWidth, cropHeight, out);
    }

    /** Rescale and normalise one uint8 HWC image into a CHW float32 plane, numpy's way. */
    private float[] toChannelsFirst(RgbImage img) {
        int hw = img.width() * img.height();
        byte[] rgb = img.rgb();
        float[] out = new float[3 * hw];
        for (int p = 0; p < hw; p++) {
            for (int c = 0; c < 3; c++) {
                int u = rgb[p * 3 + c] & 0xFF;
                // rescale: uint8 * Python float is float64 in numpy, then .astype(float32).
                float v = doRescale ? (float) (u * rescaleFactor) : (float) u;
                if (doNormalize) {
                    v = (v - imageMean[c]) / imageStd[c];
                }
                out[c * hw + p] = v;
            }
        }
        return out;
    }

    // ---- configuration, with transformers' get_size_dict semantics ----

    /**
     * {@code size}: an int is the shortest edge ({@code get_size_dict(size, default_to_square=False)});
     * a list is (height, width); a dict must hold {@code shortest_edge} (optionally with
     * {@code longest_edge}, which CLIP's resize ignores) or {@code height} and {@code width}.
     */
    private static ResizeSize parseSize(JsonConfig config) {
        JsonNode n = config.get("size").orElse(null);
        if (n == null) {
            return ResizeSize.shortest(224);
        }
        if (n.isIntegralNumber()) {
            return ResizeSize.shortest(positive(config, "size", n.intValue()));
        }
        if (n.isArray()) {
            int[] hw = intPair(config, "size", n);
            return ResizeSize.exact(hw[0], hw[1]);
        }
        if (n.isObject()) {
            Map<String, Integer> d = intDict(config, "size", n);
            if (d.keySet().equals(Set.of("height", "width"))) {
                return ResizeSize.exact(d.get("height"), d.get("width"));
            }
            if (d.keySet().equals(Set.of("shortest_edge")) || d.keySet().equals(Set.of("shortest_edge", "longest_edge"))) {
                return ResizeSize.shortest(d.get("shortest_edge"));
            }
            if (!d.keySet().equals(Set.of("longest_edge")) || config.getBoolean("do_resize", true)) {
                throw config.unsupported("size", n, "an integer (the shortest edge), [height, width], {\"shortest_edge\": n} or"
                        + " {\"height\": h, \"width\": w}");
            }
            return ResizeSize.shortest(d.get("longest_edge")); // never used: do_resize is false
        }
        throw config.unsupported("size", n, "an integer, a [height, width] list or a dict");
    }

    /** {@code crop_size}: an int is a square ({@code default_to_square=True}), a list (height, width), or a dict. */
    private static int[] parseCropSize(JsonConfig config) {
        JsonNode n = config.get("crop_size").orElse(null);
        if (n == null) {
            return new int[] {224, 224};
        }
        if (n.isIntegralNumber()) {
            int s = positive(config, "crop_size", n.intValue());
            return new int[] {s, s};
        }
        if (n.isArray()) {
            return intPair(config, "crop_size", n);
        }
        if (n.isObject()) {
            Map<String, Integer> d = intDict(config, "crop_size", n);
            if (d.keySet().equals(Set.of("height", "width"))) {
                return new int[] {d.get("height"), d.get("width")};
            }
        }
        throw config.unsupported("crop_size", n, "an integer, a [height, width] list or {\"height\": h, \"width\": w}");
    }

    private static PilResample.Filter parseResample(JsonConfig config) {
        int code = config.getInt("resample", 3);
        String name = PIL_RESAMPLING.get(code);
        if (name != null) {
            for (PilResample.Filter f : PilResample.Filter.values()) {
                if (f.name().equals(name)) {
                    return f;
                }
            }
        }
        throw config.unsupported("resample", code + (name == null ? "" : " (" + name + ")"),
                "one of the PIL filters implemented here: " + implementedFilters());
    }

    private static String implementedFilters() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<Integer, String> e : new java.util.TreeMap<>(PIL_RESAMPLING).entrySet()) {
            for (PilResample.Filter f : PilResample.Filter.values()) {
                if (f.name().equals(e.getValue())) {
                    sb.append(sb.length() == 0 ? "" : ", ").append(e.getKey()).append(" (").append(f.name()).append(')');
                }
            }
        }
        return sb.toString();
    }

    /** {@code image_mean}/{@code image_std}: a list of 3 or one number for every channel, as float32 (numpy casts them). */
    private static float[] channelValues(JsonConfig config, String key, double[] defaults) {
        JsonNode n = config.get(key).orElse(null);
        double[] v;
        if (n == null) {
            v = defaults;
        } else if (n.isNumber()) {
            v = new double[] {n.doubleValue(), n.doubleValue(), n.doubleValue()};
        } else {
            v = config.getDoubleArray(key).orElseThrow();
            if (v.length != 3) {
                throw config.unsupported(key, n, "3 values (one per RGB channel) or one number");
            }
        }
        float[] out = new float[3];
        for (int c = 0; c < 3; c++) {
            out[c] = (float) v[c];
        }
        return out;
    }

    private static int[] intPair(JsonConfig config, String key, JsonNode n) {
        if (n.size() != 2 || !n.get(0).isIntegralNumber() || !n.get(1).isIntegralNumber()) {
            throw config.unsupported(key, n, "[height, width] as two integers");
        }
        return new int[] {positive(config, key, n.get(0).intValue()), positive(config, key, n.get(1).intValue())};
    }

    private static Map<String, Integer> intDict(JsonConfig config, String key, JsonNode n) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isIntegralNumber()) {
                throw config.unsupported(key, n, "integer sizes");
            }
            out.put(e.getKey(), positive(config, key, e.getValue().intValue()));
        }
        return out;
    }

    private static int positive(JsonConfig config, String key, int v) {
        if (v <= 0) {
            throw config.unsupported(key, v, "a positive size");
        }
        return v;
    }

    @Override
    public String toString() {
        return "ClipImageProcessor[" + source + ": resize " + (doResize ? size + " " + resample : "off") + ", crop "
                + (doCenterCrop ? cropHeight + "x" + cropWidth : "off") + ", rescale " + (doRescale ? rescaleFactor : "off")
                + ", normalize " + (doNormalize ? Arrays.toString(imageMean) + " / " + Arrays.toString(imageStd) : "off") + "]";
    }
}
