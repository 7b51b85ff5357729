package org.cyclediffusion.libtorch.unet;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.Conv2d;
import org.cyclediffusion.libtorch.layers.GroupNorm;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.ShapeRecorder;

/**
 * diffusers v0.23.0 {@code UNet2DConditionModel}, for the blocks Stable Diffusion 1.x and 2.x use,
 * as functional LibTorch operations over the state-dict tensors:
 * <pre>
 *   emb    = time_embedding(Timesteps(t))                         [B, 4·C0]
 *   h      = conv_in(sample)                                      skips = [h]
 *   h      = down_blocks(h, emb, text)                            skips += every layer's output
 *   h      = mid_block(h, emb, text)
 *   h      = up_blocks(h, emb, text, skips)                       each consumes len(resnets) skips
 *   out    = conv_out(silu(conv_norm_out(h)))
 * </pre>
 * When the latent height or width is not divisible by 2^(number of upsamplers), every upsampler is
 * given the size of the skip connection it will be concatenated with (diffusers'
 * {@code forward_upsample_size}), so any latent size works.
 *
 * <p>Native memory: the model keeps its own handles on the weights (same storage as the caller's
 * tensors) until {@link #close()}; each {@link #forward} runs in a {@link PointerScope} in
 * inference mode and frees every intermediate before it returns, so only the result remains.
 */
public final class UNet2DConditionModel implements AutoCloseable {
    private final UNetConfig config;
    private final WeightBinder binder;
    private final String device; // as torch names it ("cpu", "cuda:0"): a Device object would be native memory to manage
    private final torch.ScalarType dtype;
    private final Timesteps timeProj;
    private final TimestepEmbedding timeEmbedding;
    private final Conv2d convIn;
    private final List<DownBlock> downBlocks;
    private final MidBlock2DCrossAttn midBlock;
    private final List<UpBlock> upBlocks;
    private final GroupNorm convNormOut;
    private final Conv2d convOut;
    private boolean closed;

    private UNet2DConditionModel(UNetConfig config, WeightBinder binder, String device, torch.ScalarType dtype, Layers layers) {
        this.config = config;
        this.binder = binder;
        this.device = device;
        this.dtype = dtype;
        this.timeProj = new Timesteps(config.blockOutChannels()[0], config.flipSinToCos(), config.freqShift());
        this.timeEmbedding = layers.timeEmbedding;
        this.convIn = layers.convIn;
        this.downBlocks = layers.downBlocks;
        this.midBlock = layers.midBlock;
        this.upBlocks = layers.upBlocks;
        this.convNormOut = layers.convNormOut;
        this.convOut = layers.convOut;
    }

    /** The network's layers, assembled against a {@link ParameterSource}, in diffusers' construction order. */
    private record Layers(TimestepEmbedding timeEmbedding, Conv2d convIn, List<DownBlock> downBlocks, MidBlock2DCrossAttn midBlock,
            List<UpBlock> upBlocks, GroupNorm convNormOut, Conv2d convOut) {

        static Layers assemble(UNetConfig c, ParameterSource p) {
            int[] channels = c.blockOutChannels();
            Conv2d convIn = Conv2d.create(p, "conv_in", c.inChannels(), channels[0], c.convInKernel(), 1, (c.convInKernel() - 1) / 2);
            TimestepEmbedding time = TimestepEmbedding.create(p, "time_embedding", channels[0], c.timeEmbedDim());
            List<DownBlock> down = new ArrayList<>();
            int in = channels[0];
            for (int i = 0; i < c.numBlocks(); i++) {
                down.add(DownBlock.create(p, c, i, in));
                in = channels[i];
            }
            MidBlock2DCrossAttn mid = MidBlock2DCrossAttn.create(p, c);
            List<UpBlock> up = new ArrayList<>();
            for (int i = 0; i < c.numBlocks(); i++) {
                up.add(UpBlock.create(p, c, i));
            }
            GroupNorm normOut = GroupNorm.create(p, "conv_norm_out", c.normNumGroups(), channels[0], c.normEps());
            Conv2d convOut = Conv2d.create(p, "conv_out", channels[0], c.outChannels(), c.convOutKernel(), 1, (c.convOutKernel() - 1) / 2);
            return new Layers(time, convIn, List.copyOf(down), mid, List.copyOf(up), normOut, convOut);
        }
    }

    /**
     * Every parameter of the network {@code config} describes, by diffusers state-dict name, with
     * its shape, in construction order. Fails like {@link #build} on a config value we do not
     * implement.
     */
    public static Map<String, long[]> expectedShapes(JsonConfig config) {
        return expectedShapes(UNetConfig.from(config));
    }

    static Map<String, long[]> expectedShapes(UNetConfig config) {
        ShapeRecorder recorder = new ShapeRecorder(config.source());
        Layers.assemble(config, recorder);
        return recorder.shapes();
    }

    /**
     * Builds the model over {@code weights} (diffusers state-dict names, as stored in {@code
     * unet/diffusion_pytorch_model.safetensors}, already on the target device and dtype). Every
     * expected tensor must be present with its expected shape and there must be no others; the
     * error lists what is missing or unexpected and names the first shape mismatch. The caller
     * keeps ownership of its tensors (the model holds its own handles on the same storage).
     */
    public static UNet2DConditionModel build(JsonConfig config, Map<String, Tensor> weights) {
        UNetConfig c = UNetConfig.from(config);
        Map<String, long[]> expected = expectedShapes(c);
        validate(c.source(), expected, weights);
        Tensor first = weights.get("conv_in.weight");
        String device = deviceName(first);
        // JavaCPP returns enum copies: intern() gives the constant, so == and switch work
        torch.ScalarType dtype = first.scalar_type().intern();
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            Tensor t = e.getValue();
            if (t.scalar_type().intern() != dtype || !deviceName(t).equals(device)) {
                throw new ConfigException(c.source() + ": UNet weights must share one device and dtype; conv_in.weight is "
                        + dtype + " on " + device + " but " + e.getKey() + " is " + t.scalar_type() + " on " + deviceName(t));
            }
        }
        WeightBinder binder = new WeightBinder(c.source(), weights);
        try {
            return new UNet2DConditionModel(c, binder, device, dtype, Layers.assemble(c, binder));
        } catch (RuntimeException e) {
            binder.release();
            throw e;
        }
    }

    private static void validate(String source, Map<String, long[]> expected, Map<String, Tensor> weights) {
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        String firstMismatch = null;
        int mismatches = 0;
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            Tensor t = weights.get(e.getKey());
            if (t == null) {
                missing.add(e.getKey());
                continue;
            }
            long[] actual = shapeOf(t);
            if (!Arrays.equals(actual, e.getValue())) {
                mismatches++;
                if (firstMismatch == null) {
                    firstMismatch = "tensor '" + e.getKey() + "' has shape " + Arrays.toString(actual) + ", the config implies "
                            + Arrays.toString(e.getValue());
                }
            }
        }
        for (String name : weights.keySet()) {
            if (!expected.containsKey(name)) {
                unexpected.add(name);
            }
        }
        if (missing.isEmpty() && unexpected.isEmpty() && firstMismatch == null) {
            return;
        }
        StringBuilder msg = new StringBuilder("UNet weights do not match the config ").append(source).append(':');
        if (firstMismatch != null) {
            msg.append("\n  ").append(firstMismatch).append(mismatches > 1 ? " (and " + (mismatches - 1) + " more shape mismatches)" : "");
        }
        if (!missing.isEmpty()) {
            msg.append("\n  missing ").append(missing.size()).append(" of ").append(expected.size()).append(" tensors: ").append(listed(missing));
        }
        if (!unexpected.isEmpty()) {
            msg.append("\n  unexpected ").append(unexpected.size()).append(" tensors: ").append(listed(unexpected));
        }
        msg.append("\n  (is this the unet folder of a diffusers Stable Diffusion 1.x/2.x checkpoint, with its own config.json?)");
        throw new ConfigException(msg.toString());
    }

    private static String listed(List<String> names) {
        int shown = Math.min(names.size(), 20);
        return String.join(", ", names.subList(0, shown)) + (names.size() > shown ? ", ... (" + (names.size() - shown) + " more)" : "");
    }

    private static String deviceName(Tensor t) {
        try (Device d = t.device(); BytePointer name = d.str()) {
            return name.getString();
        }
    }

    private static long[] shapeOf(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) {
            s[i] = t.size(i);
        }
        return s;
    }

    /** diffusers' {@code set_attention_slice} on every attention layer, see {@link AttentionSlicing}. */
    public void setAttentionSlicing(AttentionSlicing slicing) {
        downBlocks.forEach(b -> b.setAttentionSlicing(slicing));
        midBlock.setAttentionSlicing(slicing);
        upBlocks.forEach(b -> b.setAttentionSlicing(slicing));
    }

    public UNetConfig config() {
        return config;
    }

    /**
     * One denoising prediction.
     *
     * @param sample              latents [B, in_channels, h, w]
     * @param timestep            the integer timestep, broadcast to the batch as diffusers does
     * @param encoderHiddenStates text embeddings [B, L, cross_attention_dim]
     * @return [B, out_channels, h, w] on the model's device and dtype; the caller owns it (close it)
     */
    public Tensor forward(Tensor sample, long timestep, Tensor encoderHiddenStates) {
        if (closed) {
            throw new IllegalStateException("UNet2DConditionModel is closed");
        }
        checkInputs(sample, encoderHiddenStates);
        Tensor result;
        try (PointerScope scope = new PointerScope(); InferenceMode inference = new InferenceMode()) {
            Device target = new Device(device);
            result = run(sample.to(target, dtype), timestep, encoderHiddenStates.to(target, dtype), target);
            result.retainReference(); // survives the scope: the caller's to close
        } catch (RuntimeException e) {
            if (e instanceof CycleDiffusionException ce) {
                throw ce;
            }
            throw new CycleDiffusionException("UNet forward failed for sample " + Arrays.toString(shapeOf(sample)) + " at timestep "
                    + timestep + ": " + e.getMessage(), e);
        }
        return result;
    }

    private Tensor run(Tensor sample, long timestep, Tensor text, Device target) {
        long batch = sample.size(0);
        long height = sample.size(2);
        long width = sample.size(3);
        long upFactor = 1L << config.numUpsamplers();
        boolean forwardUpsampleSize = height % upFactor != 0 || width % upFactor != 0;

        if (config.centerInputSample()) {
            sample = sample.mul(new Scalar(2.0)).sub(new Scalar(1.0));
        }
        // time: float32 sinusoids (as diffusers computes them), cast to the model dtype, then the MLP
        Tensor tEmb = timeProj.forward(timestep, batch, target).to(dtype);
        Tensor emb = timeEmbedding.forward(tEmb);
        Tensor tembAct = torch.silu(emb); // what every ResnetBlock2D applies to temb first

        Tensor h = convIn.forward(sample);
        List<Tensor> skips = new ArrayList<>();
        skips.add(h);
        for (DownBlock block : downBlocks) {
            h = block.forward(h, tembAct, text, skips);
        }
        h = midBlock.forward(h, tembAct, text);
        for (int i = 0; i < upBlocks.size(); i++) {
            UpBlock block = upBlocks.get(i);
            List<Tensor> mine = new ArrayList<>(skips.subList(skips.size() - block.skipCount(), skips.size()));
            skips.subList(skips.size() - block.skipCount(), skips.size()).clear();
            long[] upsampleSize = null;
            if (i < upBlocks.size() - 1 && forwardUpsampleSize) {
                Tensor next = skips.get(skips.size() - 1); // the skip the next block starts with
                upsampleSize = new long[] {next.size(2), next.size(3)};
            }
            h = block.forward(h, tembAct, text, mine, upsampleSize);
        }
        return convOut.forward(convNormOut.forward(h, Activation.SILU));
    }

    private void checkInputs(Tensor sample, Tensor text) {
        if (sample.dim() != 4 || sample.size(1) != config.inChannels()) {
            throw new IllegalArgumentException("UNet sample must be [batch, " + config.inChannels() + ", height, width], found "
                    + Arrays.toString(shapeOf(sample)));
        }
        if (text.dim() != 3 || text.size(0) != sample.size(0)) {
            throw new IllegalArgumentException("encoder hidden states must be [batch, tokens, dim] with the sample's batch "
                    + sample.size(0) + ", found " + Arrays.toString(shapeOf(text)));
        }
        for (int i = 0; i < config.numBlocks(); i++) {
            boolean attends = config.downBlocks().get(i).hasCrossAttention() || config.upBlocks().get(config.numBlocks() - 1 - i).hasCrossAttention()
                    || i == config.numBlocks() - 1;
            if (attends && text.size(2) != config.crossAttentionDim()[i]) {
                throw new IllegalArgumentException("encoder hidden states have " + text.size(2) + " features, the UNet ("
                        + config.source() + ") expects cross_attention_dim " + config.crossAttentionDim()[i]);
            }
        }
    }

    /** Releases the model's handles on the weights; the caller's tensors are not touched. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            binder.release();
        }
    }
}
