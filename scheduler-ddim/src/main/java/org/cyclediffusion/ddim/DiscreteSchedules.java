package org.cyclediffusion.ddim;

import java.util.Arrays;
import java.util.Objects;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Arithmetic every discrete-time diffusers scheduler shares (DDIM here, DDPM in its own plug-in):
 * the inference timesteps of a config and the forward process q(x_t | x_0), in float32 as torch.
 */
public final class DiscreteSchedules {
    private DiscreteSchedules() {
    }

    /** {@code set_timesteps(n)}: the spacing's timesteps, refused when n or a timestep falls outside [0, T). */
    public static int[] timesteps(DdimConfig config, int numInferenceSteps) {
        int t = config.numTrainTimesteps();
        if (numInferenceSteps < 1 || numInferenceSteps > t) {
            throw new IllegalArgumentException("numInferenceSteps must be in [1, num_train_timesteps = " + t + "], found "
                    + numInferenceSteps + " (the model was trained on " + t + " timesteps)");
        }
        int[] ts = config.timestepSpacing().timesteps(t, numInferenceSteps, config.stepsOffset());
        for (int x : ts) {
            if (x < 0 || x >= t) {
                throw new IllegalArgumentException(config.timestepSpacing().configName() + " spacing with steps_offset "
                        + config.stepsOffset() + " gives timestep " + x + " for " + numInferenceSteps
                        + " steps, outside [0, " + t + "); use fewer steps or a smaller steps_offset");
            }
        }
        return ts;
    }

    /** Every training timestep, largest first: what diffusers holds before {@code set_timesteps}. */
    public static int[] allTimesteps(int numTrainTimesteps) {
        int[] ts = new int[numTrainTimesteps];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = ts.length - 1 - i;
        }
        return ts;
    }

    /** Forward process q(x_t | x_0) = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, one timestep per batch row (or one for all). */
    public static FloatTensor addNoise(float[] alphasCumprod, FloatTensor originalSamples, FloatTensor noise, int[] timesteps) {
        requireSameShape("noise", noise, "originalSamples", originalSamples);
        int rows = originalSamples.rank() == 0 ? 1 : originalSamples.dim(0);
        if (timesteps.length != rows && timesteps.length != 1) {
            throw new IllegalArgumentException("addNoise: " + timesteps.length + " timesteps for " + rows
                    + " batch rows (expected one per row, or one for all)");
        }
        float[] x0 = originalSamples.data();
        float[] eps = noise.data();
        float[] out = new float[x0.length];
        int rowSize = originalSamples.rowSize();
        for (int r = 0; r < rows; r++) {
            int t = timesteps[timesteps.length == 1 ? 0 : r];
            if (t < 0 || t >= alphasCumprod.length) {
                throw new IllegalArgumentException("timestep " + t + " outside [0, " + alphasCumprod.length + ")");
            }
            float alphaProd = alphasCumprod[t];
            float sqrtAlphaProd = TorchFloat32.sqrt(alphaProd);
            float sqrtOneMinusAlphaProd = TorchFloat32.sqrt(1 - alphaProd);
            for (int i = r * rowSize; i < (r + 1) * rowSize; i++) {
                out[i] = sqrtAlphaProd * x0[i] + sqrtOneMinusAlphaProd * eps[i];
            }
        }
        return new FloatTensor(out, originalSamples.shape());
    }

    /** Fails unless both tensors are given and have the same shape, naming both. */
    public static void requireSameShape(String name, FloatTensor t, String otherName, FloatTensor other) {
        Objects.requireNonNull(t, name);
        Objects.requireNonNull(other, otherName);
        if (!Arrays.equals(t.shape(), other.shape())) {
            throw new IllegalArgumentException(name + " has shape " + Arrays.toString(t.shape()) + ", " + otherName
                    + " has " + Arrays.toString(other.shape()) + " (expected equal shapes)");
        }
    }
}
