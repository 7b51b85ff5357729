package org.cyclediffusion.libtorch.layers;

import static org.bytedeco.pytorch.global.torch.gelu;
import static org.bytedeco.pytorch.global.torch.gelu_;
import static org.bytedeco.pytorch.global.torch.sigmoid;
import static org.bytedeco.pytorch.global.torch.silu;
import static org.bytedeco.pytorch.global.torch.silu_;

import java.util.Arrays;
import java.util.Locale;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.JsonConfig;

/** The activations the configs we read can name ({@code hidden_act}, {@code act_fn}). */
public enum Activation {
    /** {@code x·sigmoid(x)}; diffusers' {@code get_activation} maps both {@code silu} and {@code swish} here. */
    SILU("silu", "swish"),
    /** Exact (erf) GELU, transformers' {@code "gelu"} (SD 2.x text encoder). */
    GELU("gelu"),
    /** {@code x·sigmoid(1.702·x)}, transformers' {@code QuickGELUActivation} (OpenAI CLIP, SD 1.x). */
    QUICK_GELU("quick_gelu");

    private final String[] names;

    Activation(String... names) {
        this.names = names;
    }

    /** Reads {@code key}; a value outside {@code allowed} fails naming file, field and value. */
    public static Activation read(JsonConfig config, String key, String defaultValue, Activation... allowed) {
        String value = config.getString(key, defaultValue);
        for (Activation a : allowed) {
            for (String n : a.names) {
                if (n.equals(value.toLowerCase(Locale.ROOT))) {
                    return a;
                }
            }
        }
        throw config.unsupported(key, '"' + value + '"', "one of " + Arrays.stream(allowed).map(a -> a.names[0]).toList());
    }

    /** The activation written over {@code x} (a temporary the caller owns), returning it: one buffer fewer at full resolution. */
    public Tensor applyInPlace(Tensor x) {
        return switch (this) {
            case SILU -> silu_(x);
            case GELU -> gelu_(x);
            case QUICK_GELU -> x.mul_(sigmoid(x.mul(new Scalar(1.702))));
        };
    }

    public Tensor apply(Tensor x) {
        return switch (this) {
            case SILU -> silu(x);
            case GELU -> gelu(x);
            case QUICK_GELU -> x.mul(sigmoid(x.mul(new Scalar(1.702))));
        };
    }
}
