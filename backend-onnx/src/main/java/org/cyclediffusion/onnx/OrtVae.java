package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.io.Closeables;
import org.cyclediffusion.core.spi.LatentDistribution;
import org.cyclediffusion.core.spi.Vae;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * {@code vae_encoder/model.onnx} and {@code vae_decoder/model.onnx}.
 *
 * <p>Encoder exports come in two kinds (fixtures README §3):
 * <ul>
 *   <li>{@code latent_parameters} (optimum ≥ 1.23): diffusers' {@code DiagonalGaussianDistribution.parameters},
 *       mean and log-variance before the clamp; split and clamped here
 *       ({@link LatentDistribution#fromMoments}), and sampled by the pipeline with its own seeded
 *       generator, as diffusers does.</li>
 *   <li>{@code latent_sample} (optimum ≤ 1.22, diffusers' export script): a sample drawn inside the
 *       graph by ONNX Runtime's own generator, so the VAE noise cannot follow the seed. We return it
 *       as a distribution with that sample as its mean and a log-variance of −∞ (standard deviation
 *       0): sampling it gives the graph's sample back exactly, and the pipeline still makes its
 *       random draw, so every later draw (add_noise, posterior samples) stays aligned with
 *       diffusers'. A warning says so when the encoder opens.</li>
 * </ul>
 */
final class OrtVae implements Vae {
    static final String PARAMETERS = "latent_parameters";
    static final String SAMPLED = "latent_sample";
    static final List<OrtSignature> ENCODER_SIGNATURES = List.of(
            new OrtSignature("(optimum >= 1.23)", List.of(OrtPort.of("sample", OrtElementType.FLOATS, 4)),
                    List.of(OrtPort.of(PARAMETERS, OrtElementType.FLOATS, 4))),
            new OrtSignature("(sampled in the graph)", List.of(OrtPort.of("sample", OrtElementType.FLOATS, 4)),
                    List.of(OrtPort.of(SAMPLED, OrtElementType.FLOATS, 4))));
    static final List<OrtSignature> DECODER_SIGNATURES = List.of(new OrtSignature("",
            List.of(OrtPort.of(SAMPLED, OrtElementType.FLOATS, 4)), List.of(OrtPort.of("sample", OrtElementType.FLOATS, 4))));

    private static final System.Logger LOG = System.getLogger(OrtVae.class.getName());

    private final OrtNetwork encoder;
    private final OrtNetwork decoder;
    private final boolean sampledInGraph;
    private final float scalingFactor;
    private final int scaleFactor;
    private final int latentChannels;

    private OrtVae(OrtNetwork encoder, OrtNetwork decoder, JsonConfig config) {
        this.encoder = encoder;
        this.decoder = decoder;
        this.sampledInGraph = encoder.signature() == ENCODER_SIGNATURES.get(1);
        this.scalingFactor = config == null ? 0.18215f : (float) config.getDouble("scaling_factor", 0.18215);
        int levels = config == null ? 4 : config.getIntArray("block_out_channels").map(a -> a.length).orElse(4);
        this.scaleFactor = 1 << (levels - 1);
        long declared = decoder.input(SAMPLED).getShape()[1];
        this.latentChannels = declared >= 0 ? (int) declared : config == null ? 4 : config.getInt("latent_channels", 4);
        if (sampledInGraph) {
            LOG.log(System.Logger.Level.WARNING, encoder.file() + " outputs latent_sample, a sample drawn inside the graph by ONNX"
                    + " Runtime: the VAE noise does not follow the seed, so results differ from diffusers' for the same seed."
                    + " Re-export with optimum >= 1.23 (output latent_parameters) for seeded, reproducible edits.");
        }
    }

    /**
     * Opens both halves; the configuration is {@code vae_decoder/config.json} (optimum writes the
     * same file beside both), absent in the diffusers script's layout (SD defaults then).
     */
    static OrtVae open(OrtSessionFactory factory, Path encoderFile, Path decoderFile, JsonConfig config) {
        OrtNetwork encoder = OrtNetwork.open(factory, encoderFile, "VAE encoder", ENCODER_SIGNATURES);
        OrtNetwork decoder = null;
        try {
            decoder = OrtNetwork.open(factory, decoderFile, "VAE decoder", DECODER_SIGNATURES);
            return new OrtVae(encoder, decoder, config);
        } catch (RuntimeException e) {
            throw Closeables.closeAfter(e, decoder, encoder);
        }
    }

    boolean sampledInGraph() {
        return sampledInGraph;
    }

    @Override
    public LatentDistribution encode(FloatTensor pixels) {
        encoder.ensureOpen();
        int[] s = pixels.shape();
        if (s.length != 4 || s[1] != 3) {
            throw new CycleDiffusionException(encoder.file() + ": pixels must be [batch, 3, H, W], found " + Arrays.toString(s));
        }
        if (s[2] % scaleFactor != 0 || s[3] % scaleFactor != 0) {
            throw new CycleDiffusionException(encoder.file() + ": image " + s[3] + "x" + s[2] + " (WxH): sides must be multiples of "
                    + scaleFactor + " (the pipeline's preprocessing floors them)");
        }
        TensorInfo in = encoder.input("sample");
        String output = sampledInGraph ? SAMPLED : PARAMETERS;
        FloatTensor out;
        try (OnnxTensor x = OrtTensors.floats(pixels, in.type);
                OrtSession.Result r = encoder.run(Map.of("sample", x), Set.of(output))) {
            out = OrtTensors.toHost(r, output);
        }
        int channels = sampledInGraph ? latentChannels : 2 * latentChannels;
        int[] expected = {s[0], channels, s[2] / scaleFactor, s[3] / scaleFactor};
        if (!Arrays.equals(out.shape(), expected)) {
            throw new CycleDiffusionException(encoder.file() + ": " + output + " has shape " + Arrays.toString(out.shape())
                    + ", expected " + Arrays.toString(expected));
        }
        if (!sampledInGraph) {
            return LatentDistribution.fromMoments(out);
        }
        float[] logvar = new float[out.size()];
        Arrays.fill(logvar, Float.NEGATIVE_INFINITY);
        return new LatentDistribution(out, new FloatTensor(logvar, out.shape()));
    }

    @Override
    public FloatTensor decode(FloatTensor latents) {
        decoder.ensureOpen();
        int[] s = latents.shape();
        if (s.length != 4 || s[1] != latentChannels) {
            throw new CycleDiffusionException(decoder.file() + ": latents must be [batch, " + latentChannels + ", h, w], found "
                    + Arrays.toString(s));
        }
        TensorInfo in = decoder.input(SAMPLED);
        FloatTensor out;
        if (in.type != ai.onnxruntime.OnnxJavaType.FLOAT && s[0] > 1) {
            // diffusers' ONNX pipelines decode one latent at a time: half-precision VAE decoders gave
            // wrong results for batches larger than one.
            List<FloatTensor> rows = new java.util.ArrayList<>();
            for (int i = 0; i < s[0]; i++) {
                rows.add(decode(latents.row(i)));
            }
            return FloatTensor.cat(rows);
        }
        try (OnnxTensor z = OrtTensors.floats(latents, in.type);
                OrtSession.Result r = decoder.run(Map.of(SAMPLED, z), Set.of("sample"))) {
            out = OrtTensors.toHost(r, "sample");
        }
        int[] expected = {s[0], 3, s[2] * scaleFactor, s[3] * scaleFactor};
        if (!Arrays.equals(out.shape(), expected)) {
            throw new CycleDiffusionException(decoder.file() + ": sample has shape " + Arrays.toString(out.shape()) + ", expected "
                    + Arrays.toString(expected));
        }
        return out;
    }

    @Override
    public float scalingFactor() {
        return scalingFactor;
    }

    @Override
    public int scaleFactor() {
        return scaleFactor;
    }

    @Override
    public void close() {
        try {
            decoder.close();
        } finally {
            encoder.close();
        }
    }
}
