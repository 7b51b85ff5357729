package org.cyclediffusion.libtorch;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.libtorch.layers.Activation;
import org.cyclediffusion.libtorch.layers.Conv2d;
import org.cyclediffusion.libtorch.layers.GroupNorm;
import org.cyclediffusion.libtorch.layers.ParameterSource;
import org.cyclediffusion.libtorch.layers.Upsample2D;

/**
 * Diagnostic (not a test): where the bfloat16 VAE decoder's error enters. Runs {@code dec_z2_input}
 * through the decoder op by op twice, with float64 and with bfloat16 weights (same layer classes),
 * and prints per op the local error (the bfloat16 op on the float64 input rounded to bfloat16,
 * against the float64 op; in ulps of the output's largest value) and the propagated error of the
 * bfloat16 chain. Every op is within ~1 ulp locally; the chain's error is their accumulation.
 * {@code java ... VaeBFloat16Trace [tiny-sd|tiny-sd2] [bf16|f32] [image row]}, with and without
 * {@code ONEDNN_MAX_CPU_ISA} (AVX2, AVX512_CORE_BF16), {@code OMP_NUM_THREADS=1} as the tests.
 */
public final class VaeBFloat16Trace {
    static Map<String, Tensor> load(java.nio.file.Path file, ScalarType type) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (String name : st.tensors().keySet()) {
                FloatTensor t = st.floatTensor(name);
                out.put(name, toTorch(t).to(type).retainReference());
            }
        }
        return out;
    }

    static Tensor toTorch(FloatTensor t) {
        long[] shape = new long[t.rank()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.dim(i);
        }
        return torch.from_blob(new FloatPointer(t.data()), shape, new TensorOptions(ScalarType.Float)).clone();
    }

    static ParameterSource source(Map<String, Tensor> w) {
        return new ParameterSource("trace") {
            @Override
            public Tensor take(String name, long... shape) {
                Tensor t = w.get(VaeAttentionBlock.renameLegacy(name));
                if (t == null) {
                    for (var e : w.entrySet()) {
                        if (VaeAttentionBlock.renameLegacy(e.getKey()).equals(name)) {
                            return e.getValue();
                        }
                    }
                }
                return t;
            }
        };
    }

    /** Runs op in both precisions: the f64 chain advances, and the local error (bf16 op on the rounded f64 input) is printed. */
    static final class Chain {
        Tensor ref;
        Tensor low;
        final ScalarType lowType;

        Chain(Tensor in, ScalarType lowType) {
            this.ref = in.to(ScalarType.Double);
            this.low = in.to(lowType);
            this.lowType = lowType;
        }

        void step(String name, Function<Tensor, Tensor> refOp, Function<Tensor, Tensor> lowOp) {
            Tensor r = refOp.apply(ref);
            Tensor local = lowOp.apply(ref.to(lowType)).to(ScalarType.Double);
            Tensor prop = lowOp.apply(low);
            double range = r.abs().max().item_double();
            double localErr = local.sub(r).abs().max().item_double();
            double propErr = prop.to(ScalarType.Double).sub(r).abs().max().item_double();
            System.out.printf(Locale.ROOT, "%-46s |ref|max %8.3f  local %9.3e (%6.2f ulp@max)  propagated %9.3e%n", name, range, localErr,
                    localErr / ulp(range), propErr);
            ref = r;
            low = prop;
        }

        static double ulp(double v) {
            return Math.scalb(1.0, Math.getExponent((float) v) - 7);
        }
    }

    public static void main(String[] args) {
        TorchNatives.load();
        String model = args.length > 0 ? args[0] : "tiny-sd";
        ScalarType lowType = args.length > 1 && args[1].equals("f32") ? ScalarType.Float : ScalarType.BFloat16;
        try (InferenceMode guard = new InferenceMode(); PointerScope scope = new PointerScope()) {
            var file = Fixtures.model(model).resolve("vae/diffusion_pytorch_model.safetensors");
            AutoencoderKLConfig c = AutoencoderKLConfig.read(org.cyclediffusion.core.config.JsonConfig.read(Fixtures.model(model).resolve("vae/config.json")));
            ParameterSource p64 = source(load(file, ScalarType.Double));
            ParameterSource plo = source(load(file, lowType));
            Golden g = Golden.open(model.equals("tiny-sd") ? "vae_tiny_sd" : "vae_tiny_sd2");
            Tensor z = toTorch(g.f32("dec_z2_input"));
            Tensor gold = toTorch(g.f32("dec_z2_out"));
            if (args.length > 2) {
                int row = Integer.parseInt(args[2]);
                z = z.narrow(0, row, 1);
                gold = gold.narrow(0, row, 1);
            }
            Chain ch = new Chain(z, lowType);
            conv(ch, p64, plo, "post_quant_conv", c.latentChannels(), c.latentChannels(), 1, 0);
            int[] chs = c.blockOutChannels();
            int levels = chs.length;
            int groups = c.normNumGroups();
            double eps = 1e-6;
            conv(ch, p64, plo, "decoder.conv_in", c.latentChannels(), chs[levels - 1], 3, 1);
            resnet(ch, p64, plo, "decoder.mid_block.resnets.0", chs[levels - 1], chs[levels - 1], groups, eps);
            {
                String pre = "decoder.mid_block.attentions.0";
                VaeAttentionBlock a64 = new VaeAttentionBlock(p64, pre, chs[levels - 1], groups, eps);
                VaeAttentionBlock alo = new VaeAttentionBlock(plo, pre, chs[levels - 1], groups, eps);
                ch.step(pre, a64::forward, alo::forward);
            }
            resnet(ch, p64, plo, "decoder.mid_block.resnets.1", chs[levels - 1], chs[levels - 1], groups, eps);
            int out = chs[levels - 1];
            for (int i = 0; i < levels; i++) {
                int in = out;
                out = chs[levels - 1 - i];
                for (int j = 0; j < c.layersPerBlock() + 1; j++) {
                    resnet(ch, p64, plo, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out, groups, eps);
                }
                if (i < levels - 1) {
                    String pre = "decoder.up_blocks." + i + ".upsamplers.0";
                    Upsample2D u64 = Upsample2D.create(p64, pre, out);
                    Upsample2D ulo = Upsample2D.create(plo, pre, out);
                    ch.step(pre, u64::forward, ulo::forward);
                }
            }
            normAct(ch, p64, plo, "decoder.conv_norm_out", groups, chs[0], eps);
            conv(ch, p64, plo, "decoder.conv_out", chs[0], c.outChannels(), 3, 1);
            Tensor golden = gold.to(ScalarType.Double);
            System.out.printf(Locale.ROOT, "f64 vs golden %.3e; low vs golden %.3e%n", ch.ref.sub(golden).abs().max().item_double(),
                    ch.low.to(ScalarType.Double).sub(golden).abs().max().item_double());
        }
    }

    static void conv(Chain ch, ParameterSource p64, ParameterSource plo, String pre, int in, int out, int k, int pad) {
        Conv2d a = Conv2d.create(p64, pre, in, out, k, 1, pad);
        Conv2d b = Conv2d.create(plo, pre, in, out, k, 1, pad);
        ch.step(pre, a::forward, b::forward);
    }

    /** The norm and its SiLU as the layers run them (one step: in bfloat16 they round once). */
    static void normAct(Chain ch, ParameterSource p64, ParameterSource plo, String pre, int groups, int channels, double eps) {
        GroupNorm a = GroupNorm.create(p64, pre, groups, channels, eps);
        GroupNorm b = GroupNorm.create(plo, pre, groups, channels, eps);
        ch.step(pre + " + silu", x -> a.forward(x, Activation.SILU), x -> b.forward(x, Activation.SILU));
    }

    static void resnet(Chain ch, ParameterSource p64, ParameterSource plo, String pre, int in, int out, int groups, double eps) {
        Tensor x64 = ch.ref;
        Tensor xlo = ch.low;
        normAct(ch, p64, plo, pre + ".norm1", groups, in, eps);
        conv(ch, p64, plo, pre + ".conv1", in, out, 3, 1);
        normAct(ch, p64, plo, pre + ".norm2", groups, out, eps);
        conv(ch, p64, plo, pre + ".conv2", out, out, 3, 1);
        Tensor h64 = ch.ref;
        Tensor hlo = ch.low;
        if (in != out) {
            Conv2d sa = Conv2d.create(p64, pre + ".conv_shortcut", in, out, 1, 1, 0);
            Conv2d sb = Conv2d.create(plo, pre + ".conv_shortcut", in, out, 1, 1, 0);
            ch.ref = x64;
            ch.low = xlo;
            ch.step(pre + ".conv_shortcut", sa::forward, sb::forward);
            x64 = ch.ref;
            xlo = ch.low;
        }
        Tensor s64 = x64;
        Tensor slo = xlo;
        ch.ref = h64;
        ch.low = hlo;
        ch.step(pre + ".residual add (bf16 skip)", h -> s64.add(h), h -> slo.add(h));
    }
}
