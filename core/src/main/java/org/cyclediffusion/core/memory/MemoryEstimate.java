package org.cyclediffusion.core.memory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.core.spi.DType;

/**
 * The peak memory of one edit, estimated from the model's configs before anything loads, so that
 * a request that cannot fit is refused in milliseconds instead of failing after minutes (or taking
 * the machine down). Deliberately simple and on the safe side; it is an order of magnitude, not a
 * measurement:
 * <ul>
 *   <li>weights: the size of the weight files a load reads (the single file or the shards, of the
 *       folder's variant; ONNX external data included);</li>
 *   <li>UNet: at the first (full latent resolution) level the batch of {@code 4·B} rows under
 *       guidance ({@code 2·B} without) carries activations of {@code ~18·C₀} values per latent
 *       pixel (resnets, the transformer's GEGLU feed-forward), and, where attention is computed
 *       naively, the self-attention scores and probabilities
 *       {@code 2 · rows · heads · (h·w)² } — quadratic in the latent pixels, the term that makes
 *       a 4000×4000 input impossible;</li>
 *   <li>VAE: at full image resolution the decoder holds its last up-block's input and a few
 *       outputs, {@code ~(C₁ + 4·C₀)} values per pixel per image, plus the mid-block's
 *       single-head self-attention over the latent pixels when computed naively; the encoder
 *       likewise for the input images.</li>
 * </ul>
 * Attention is "naive" for backends that materialise the score matrix: ONNX Runtime's exported
 * graphs do, and so did LibTorch's {@code scaled_dot_product_attention} on CPU for the VAE's
 * single-head attention over 250,000 latent pixels (a 4000×4000 input ran out of 22 GB). A backend
 * known to compute attention in slices or with a flash kernel can be estimated without it. With
 * the UNet's attention slicing on ({@link AttentionSlicing}), its term is one slice's scores and
 * probabilities, the slice the backend computes at a time, by the same arithmetic.
 *
 * @param weights        bytes of weights
 * @param unet           bytes of the UNet's activations at its peak
 * @param vaeDecode      bytes of the VAE decoder's activations at its peak
 * @param vaeEncode      bytes of the VAE encoder's activations at its peak
 * @param host           bytes of host buffers (pixels, images, latents on the Java heap) and runtime overhead
 */
public record MemoryEstimate(long weights, long unet, long vaeDecode, long vaeEncode, long host) {
    /** Runtime overhead that does not depend on the request: the JVM, native libraries, allocator slack. */
    static final long OVERHEAD = 512L << 20;

    /** The peak: weights and host buffers are resident, the networks run one at a time. */
    public long peak() {
        return weights + host + Math.max(unet, Math.max(vaeDecode, vaeEncode));
    }

    /** The largest part, in words, e.g. {@code UNet self-attention over 500×500 latent pixels}. */
    public String largestPart() {
        long m = Math.max(unet, Math.max(vaeDecode, vaeEncode));
        if (weights >= m) {
            return "the weights";
        }
        return m == unet ? "the UNet" : m == vaeDecode ? "the VAE decoder" : "the VAE encoder";
    }

    /** The shape facts of a model the estimate needs, read from its configs. */
    public record ModelShape(long weightBytes, int vaeScaleFactor, int unetChannels, int unetHeads, boolean unetAttentionAtFullRes,
            int vaeChannels, int vaeChannelsBelow) {

        /** From {@code unet/config.json} and {@code vae/config.json} (or optimum's {@code vae_decoder/}). */
        public static ModelShape of(ModelFolder folder) {
            JsonConfig unet = folder.config("unet", "config.json").quietCopy();
            String vaeDir = Files.isDirectory(folder.component("vae")) ? "vae" : "vae_decoder";
            JsonConfig vae = folder.config(vaeDir, "config.json").quietCopy();
            int[] unetBlocks = unet.getIntArray("block_out_channels").orElse(new int[] {320, 640, 1280, 1280});
            // diffusers reads attention_head_dim as the number of heads when num_attention_heads is
            // absent (a historical naming, SD 1.x: 8); SD 2.x lists it per level.
            int[] heads = unet.getIntArray("num_attention_heads").orElse(unet.getIntArray("attention_head_dim").orElse(new int[] {8}));
            boolean attention = unet.get("down_block_types").map(n -> n.isArray() && n.size() > 0
                    && n.get(0).asText().startsWith("CrossAttn")).orElse(true);
            int[] vaeBlocks = vae.getIntArray("block_out_channels").orElse(new int[] {128, 256, 512, 512});
            int scale = 1 << (vaeBlocks.length - 1);
            return new ModelShape(weightBytes(folder), scale, unetBlocks[0], heads[0], attention, vaeBlocks[0],
                    vaeBlocks.length > 1 ? vaeBlocks[1] : vaeBlocks[0]);
        }

        /**
         * The bytes a load reads: for a component with safetensors weights the files
         * {@link ModelFolder#weightFiles} names (the single file or the index and its shards, in the
         * folder's variant, chosen as the load chooses), else the component's other files but
         * configs (an ONNX graph and its external data).
         */
        private static long weightBytes(ModelFolder folder) {
            long total = 0;
            for (String c : new String[] {"unet", "vae", "vae_encoder", "vae_decoder", "text_encoder", "safety_checker"}) {
                Path dir = folder.component(c);
                if (!Files.isDirectory(dir)) {
                    continue;
                }
                String name = c.equals("text_encoder") || c.equals("safety_checker") ? "model.safetensors" : "diffusion_pytorch_model.safetensors";
                // hasWeights is false where the load would fail (an ambiguous or missing variant): that load says why
                List<Path> read = folder.hasWeights(c, name) ? folder.weightFiles(c, name) : List.of();
                if (read.isEmpty()) {
                    try (Stream<Path> files = Files.list(dir)) {
                        read = files.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().endsWith(".json")).toList();
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot list " + dir, e);
                    }
                }
                for (Path p : read) {
                    try {
                        total += Files.size(p);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }
            return total;
        }
    }

    /**
     * @param width          output width in pixels (the first image's, floored to the VAE scale)
     * @param height         output height in pixels
     * @param images         distinct input images (encoded once each)
     * @param outputs        output images: edit rows × images per prompt
     * @param guided         classifier-free guidance on (4 UNet branches instead of 2)
     * @param dtype          the precision the backend computes in
     * @param naiveAttention whether the backend materialises attention scores
     */
    public static MemoryEstimate of(ModelShape m, int width, int height, int images, int outputs, boolean guided, DType dtype,
            boolean naiveAttention) {
        return of(m, width, height, images, outputs, guided, dtype, naiveAttention, AttentionSlicing.OFF);
    }

    /** As above, with the UNet's attention computed in slices ({@link AttentionSlicing#OFF} for all at once). */
    public static MemoryEstimate of(ModelShape m, int width, int height, int images, int outputs, boolean guided, DType dtype,
            boolean naiveAttention, AttentionSlicing unetSlicing) {
        long b = dtype == DType.FLOAT32 ? 4 : 2;
        long pixels = (long) width * height;
        long latentPixels = (long) (width / m.vaeScaleFactor()) * (height / m.vaeScaleFactor());
        long rows = (long) outputs * (guided ? 4 : 2);
        long unet = rows * latentPixels * 18L * m.unetChannels() * b;
        if (naiveAttention && m.unetAttentionAtFullRes()) {
            unet += 2L * b * (unetSlicing.isOff() ? rows * m.unetHeads() * latentPixels * latentPixels : slicedScores(m, unetSlicing, latentPixels));
        }
        long vaeAttention = naiveAttention ? 2L * latentPixels * latentPixels * b : 0;
        long decode = outputs * (pixels * (m.vaeChannelsBelow() + 4L * m.vaeChannels()) * b + vaeAttention);
        long encode = images * (pixels * 4L * m.vaeChannels() * b + vaeAttention);
        // host: float pixels [B,3,H,W] and [N,H,W,3], 8-bit images in and out, latents of both chains
        long host = OVERHEAD + (long) (images + 2 * outputs) * pixels * 3 * 4 + (long) (images + outputs) * pixels * 3;
        return new MemoryEstimate(m.weightBytes(), saturate(unet), saturate(decode), saturate(encode), host);
    }

    /** One slice's score elements: a slice of heads of one batch row, one chunk of queries, all keys. */
    private static long slicedScores(ModelShape m, AttentionSlicing slicing, long latentPixels) {
        long sliceRows = slicing.sliceRows(m.unetHeads(), m.unetHeads());
        long chunk = AttentionSlicing.queryChunk(sliceRows, latentPixels, latentPixels);
        return sliceRows * chunk * latentPixels;
    }

    private static long saturate(long v) {
        return v < 0 ? Long.MAX_VALUE / 4 : v;
    }

    /** Bytes for people: {@code 1.5 GB}, {@code 312 MB}, {@code 16.0 TB} (powers of 1024, as free(1) counts). */
    public static String format(long bytes) {
        String[] units = {"B", "KB", "MB", "GB", "TB", "PB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : "%.1f %s", v, units[u]);
    }
}
