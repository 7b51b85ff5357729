package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * {@code unet/model.onnx}: {@code sample}, {@code timestep}, {@code encoder_hidden_states} →
 * {@code out_sample}. The timestep is fed as the file declares it: float32 rank 0 (optimum ≥ 1.24),
 * int64 {@code [n]} (optimum ≤ 1.23), float32 {@code [batch]} (diffusers' export script); a rank-1
 * timestep gets one copy per batch row, which both the traced {@code expand} and a fixed length of
 * one accept.
 */
final class OrtUNet implements UNet {
    static final String SAMPLE = "sample";
    static final String TIMESTEP = "timestep";
    static final String HIDDEN = "encoder_hidden_states";
    static final String OUTPUT = "out_sample";
    static final List<OrtSignature> SIGNATURES = List.of(new OrtSignature("",
            List.of(OrtPort.of(SAMPLE, OrtElementType.FLOATS, 4),
                    OrtPort.of(TIMESTEP, EnumSet.of(OnnxJavaType.FLOAT, OnnxJavaType.FLOAT16, OnnxJavaType.BFLOAT16, OnnxJavaType.INT64,
                            OnnxJavaType.INT32), 0, 1),
                    OrtPort.of(HIDDEN, OrtElementType.FLOATS, 3)),
            List.of(OrtPort.of(OUTPUT, OrtElementType.FLOATS, 4))));

    private static final System.Logger LOG = System.getLogger(OrtUNet.class.getName());
    /** SD 1.x/2.x UNets have four down blocks, three of which down-sample. */
    private static final int SD_DOWNSAMPLING = 8;

    private final OrtNetwork network;
    private final int inChannels;
    private final int downsampling;
    private final TensorInfo sampleInfo;
    private final TensorInfo timestepInfo;
    private final TensorInfo hiddenInfo;

    private OrtUNet(OrtNetwork network, JsonConfig config) {
        this.network = network;
        this.sampleInfo = network.input(SAMPLE);
        this.timestepInfo = network.input(TIMESTEP);
        this.hiddenInfo = network.input(HIDDEN);
        long declaredChannels = sampleInfo.getShape()[1];
        int configChannels = config == null ? -1 : config.getInt("in_channels", -1);
        this.inChannels = declaredChannels >= 0 ? (int) declaredChannels : configChannels >= 0 ? configChannels : 4;
        this.downsampling = downsampling(network.file(), config);
    }

    /**
     * The UNet's total down-sampling, 2^(down blocks − 1): the graph was traced at one size, and its
     * choice between "up-sample ×2" and "up-sample to the skip connection's size" (diffusers'
     * {@code forward_upsample_size}) is frozen, so only sides divisible by this factor run.
     */
    private static int downsampling(Path file, JsonConfig config) {
        Optional<java.util.List<String>> blocks = config == null ? Optional.empty() : config.getStringList("down_block_types");
        if (blocks.isEmpty() || blocks.get().isEmpty()) {
            LOG.log(System.Logger.Level.INFO, file + ": no unet/config.json with down_block_types; assuming Stable Diffusion's"
                    + " UNet, which down-samples by " + SD_DOWNSAMPLING);
            return SD_DOWNSAMPLING;
        }
        return 1 << (blocks.get().size() - 1);
    }

    static OrtUNet open(OrtSessionFactory factory, Path file, JsonConfig config) {
        OrtNetwork network = OrtNetwork.open(factory, file, "UNet", SIGNATURES);
        try {
            return new OrtUNet(network, config);
        } catch (RuntimeException e) {
            network.close();
            throw e;
        }
    }

    /** The float type the UNet computes in (that of {@code sample}). */
    OnnxJavaType floatType() {
        return sampleInfo.type;
    }

    Path file() {
        return network.file();
    }

    @Override
    public Conditioning condition(FloatTensor encoderHiddenStates) {
        network.ensureOpen();
        long declared = hiddenInfo.getShape()[2];
        if (encoderHiddenStates.rank() != 3 || (declared >= 0 && encoderHiddenStates.dim(2) != declared)) {
            throw new CycleDiffusionException(network.file() + ": encoder_hidden_states must be [batch, tokens, "
                    + (declared >= 0 ? declared : "hidden") + "], found " + Arrays.toString(encoderHiddenStates.shape()));
        }
        return new OrtConditioning(this, OrtTensors.floats(encoderHiddenStates, hiddenInfo.type), encoderHiddenStates.dim(0));
    }

    @Override
    public FloatTensor predict(FloatTensor latents, long timestep, Conditioning conditioning) {
        network.ensureOpen();
        if (!(conditioning instanceof OrtConditioning c) || c.owner() != this) {
            throw new CycleDiffusionException("the conditioning was not prepared by this UNet (" + network.file() + "); call condition() on it");
        }
        int[] s = latents.shape();
        if (s.length != 4 || s[1] != inChannels) {
            throw new CycleDiffusionException(network.file() + ": latents must be [batch, " + inChannels + ", h, w], found " + Arrays.toString(s));
        }
        if (s[0] != c.batch()) {
            throw new CycleDiffusionException(network.file() + ": latents have batch " + s[0] + " but the conditioning has " + c.batch()
                    + " rows; they must be equal");
        }
        checkLatentSize(s[2], s[3]);
        long[] tShape = timestepInfo.getShape().length == 0 ? new long[0]
                : new long[] {timestepInfo.getShape()[0] >= 0 ? timestepInfo.getShape()[0] : s[0]};
        OnnxTensor hidden = c.acquire();
        try (OnnxTensor sample = OrtTensors.floats(latents, sampleInfo.type);
                OnnxTensor t = OrtTensors.filled(timestep, timestepInfo.type, tShape);
                OrtSession.Result r = network.run(Map.of(SAMPLE, sample, TIMESTEP, t, HIDDEN, hidden), Set.of(OUTPUT))) {
            FloatTensor out = OrtTensors.toHost(r, OUTPUT);
            if (!Arrays.equals(out.shape(), s)) {
                throw new CycleDiffusionException(network.file() + ": out_sample has shape " + Arrays.toString(out.shape())
                        + ", expected the latents' " + Arrays.toString(s));
            }
            return out;
        } finally {
            c.release();
        }
    }

    @Override
    public int inChannels() {
        return inChannels;
    }

    /** Total down-sampling of the UNet (latent sides must be divisible by it). */
    int downsampling() {
        return downsampling;
    }

    /**
     * Image sizes are said as image tools say them, width × height; the nearest working sizes are
     * the sides rounded down (a crop) and up to the UNet's multiple.
     */
    @Override
    public void checkLatentSize(int height, int width) {
        if (height % downsampling != 0 || width % downsampling != 0) {
            int multiple = 8 * downsampling;
            int w = 8 * width;
            int h = 8 * height;
            String down = Math.max(multiple, w / multiple * multiple) + "x" + Math.max(multiple, h / multiple * multiple);
            String up = ceil(w, multiple) + "x" + ceil(h, multiple);
            throw new InvalidInputException(String.format(Locale.ROOT,
                    "image %dx%d (width x height; latents %dx%d): the ONNX UNet %s was traced at one size and only takes image sides"
                            + " that are multiples of %d (latent sides divisible by %d); resize or crop the image to %s%s, or use the"
                            + " libtorch backend (--backend libtorch), which takes any multiple of 8",
                    w, h, width, height, network.file(), multiple, downsampling, down, down.equals(up) ? "" : " or " + up));
        }
    }

    private static int ceil(int side, int multiple) {
        return (side + multiple - 1) / multiple * multiple;
    }

    @Override
    public void close() {
        network.close();
    }
}
