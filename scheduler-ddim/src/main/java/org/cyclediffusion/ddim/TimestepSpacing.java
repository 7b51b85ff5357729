package org.cyclediffusion.ddim;

import java.util.Locale;
import java.util.Optional;

/**
 * diffusers' {@code timestep_spacing}: which training timesteps an inference schedule of n steps
 * visits (Table 2 of Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed",
 * arXiv 2305.08891). Each computes exactly what {@code DDIMScheduler.set_timesteps} of diffusers
 * v0.23.0 computes with numpy, largest timestep first.
 */
public enum TimestepSpacing {
    /** {@code round(np.linspace(0, T−1, n))} reversed; ignores {@code steps_offset}. */
    LINSPACE {
        @Override
        public int[] timesteps(int numTrainTimesteps, int n, int stepsOffset) {
            // numpy 1.24 linspace: y[i] = i·step (+ start = 0), then y[-1] = stop exactly;
            // with n = 1 the step is NaN and numpy returns [start].
            double stop = numTrainTimesteps - 1;
            double step = stop / (n - 1);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                double y = n == 1 ? 0.0 : (i == n - 1 ? stop : i * step + 0.0);
                // ndarray.round() rounds half to even, like Math.rint
                out[n - 1 - i] = (int) Math.rint(y);
            }
            return out;
        }
    },
    /** {@code arange(0, n)·(T // n)} reversed, plus {@code steps_offset} (Stable Diffusion's choice). */
    LEADING {
        @Override
        public int[] timesteps(int numTrainTimesteps, int n, int stepsOffset) {
            int stepRatio = numTrainTimesteps / n;
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                out[n - 1 - i] = i * stepRatio + stepsOffset;
            }
            return out;
        }
    },
    /**
     * {@code round(np.arange(T, 0, −T/n)) − 1}; ignores {@code steps_offset}.
     *
     * <p>Deliberate difference: numpy computes the length as {@code ceil(T/(T/n))}, which rounding
     * makes n + 1 for some n (62 of the counts 1…1000 with T = 1000, the first being 61); diffusers
     * then runs an extra step at timestep −1, which torch reads as ᾱ of the last timestep. We keep
     * the first n timesteps, which are diffusers' own.
     */
    TRAILING {
        @Override
        public int[] timesteps(int numTrainTimesteps, int n, int stepsOffset) {
            // numpy's float arange: length ceil((stop − start)/step); buffer[0] = start,
            // buffer[1] = start + step, then buffer[i] = start + i·(buffer[1] − buffer[0]).
            double step = -((double) numTrainTimesteps / n);
            double start = numTrainTimesteps;
            int numpyLength = (int) Math.max(0, Math.ceil((0.0 - numTrainTimesteps) / step));
            int length = Math.min(numpyLength, n);
            double delta = (start + step) - start;
            int[] out = new int[length];
            for (int i = 0; i < length; i++) {
                double y = i == 0 ? start : i == 1 ? start + step : start + i * delta;
                out[i] = (int) Math.rint(y) - 1;
            }
            return out;
        }
    };

    public static final String ACCEPTED = "leading, trailing or linspace";

    /** The schedule of {@code n} inference steps, largest first, as diffusers computes it. */
    public abstract int[] timesteps(int numTrainTimesteps, int n, int stepsOffset);

    public static Optional<TimestepSpacing> parse(String text) {
        for (TimestepSpacing s : values()) {
            if (s.configName().equals(text)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
