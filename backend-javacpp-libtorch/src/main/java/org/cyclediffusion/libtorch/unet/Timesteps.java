package org.cyclediffusion.libtorch.unet;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * diffusers' {@code Timesteps}: the sinusoidal embedding of {@code get_timestep_embedding}, with
 * the same float32 operations in the same order (the UNet is sensitive to it: at t ≈ 1000 an
 * error of one ulp in a frequency moves the phase by ~1e-4):
 * <pre>
 *   exponent = −ln(10000) · arange(half, float32) / (half − downscale_freq_shift)
 *   emb      = t.float()[:, None] · exp(exponent)[None, :]
 *   emb      = cat(sin emb, cos emb)  → cat(cos, sin) when flip_sin_to_cos;  zero column if dim is odd
 * </pre>
 * No parameters.
 */
final class Timesteps {
    private static final double MAX_PERIOD = 10000;
    private final int dim;
    private final boolean flipSinToCos;
    private final double downscaleFreqShift;

    Timesteps(int dim, boolean flipSinToCos, double downscaleFreqShift) {
        this.dim = dim;
        this.flipSinToCos = flipSinToCos;
        this.downscaleFreqShift = downscaleFreqShift;
    }

    /** [batch, dim] float32 on {@code device}: every row embeds the same integer timestep. */
    Tensor forward(long timestep, long batch, Device device) {
        int half = dim / 2;
        TensorOptions f32 = new TensorOptions(torch.ScalarType.Float).device(new DeviceOptional(device));
        Tensor exponent = torch.arange(new Scalar(0L), new Scalar((long) half), f32)
                .mul(new Scalar(-Math.log(MAX_PERIOD)))
                .div(new Scalar(half - downscaleFreqShift));
        Tensor freqs = torch.exp(exponent).unsqueeze(0);
        // timesteps[:, None].float(): an int64 tensor of the batch, cast to float32, then broadcast
        Tensor t = torch.full(new long[] {batch, 1}, new Scalar(timestep), new TensorOptions(torch.ScalarType.Long)
                .device(new DeviceOptional(device))).to(torch.ScalarType.Float);
        Tensor emb = t.mul(freqs);
        Tensor sin = torch.sin(emb);
        Tensor cos = torch.cos(emb);
        Tensor out = flipSinToCos ? torch.cat(new TensorVector(cos, sin), 1) : torch.cat(new TensorVector(sin, cos), 1);
        if (dim % 2 == 1) {
            out = torch.pad(out, 0L, 1L); // F.pad(emb, (0, 1, 0, 0))
        }
        return out;
    }
}
