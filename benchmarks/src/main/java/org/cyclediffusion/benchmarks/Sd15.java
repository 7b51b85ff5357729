package org.cyclediffusion.benchmarks;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.spi.SchedulerProvider;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.ddim.DdimSchedulerProvider;
import org.cyclediffusion.ddpm.DdpmSchedulerProvider;

/**
 * What the benchmarks share: Stable Diffusion 1.5's samplers (its {@code scheduler_config.json}
 * under DDIM's and DDPM's class names) and seeded host tensors of the full-size shapes.
 */
public final class Sd15 {
    /** SD 1.5's latent channels. */
    public static final int LATENT_CHANNELS = 4;
    /** SD 1.5's VAE down-sampling: 32×32 latents are a 256² image, 64×64 a 512² one. */
    public static final int VAE_SCALE_FACTOR = 8;
    /** The issue-8 edit: 10 inference steps at strength 0.2 run the last two timesteps. */
    public static final int NUM_INFERENCE_STEPS = 10;
    /** diffusers' default η of the cycle pipeline. */
    public static final double ETA = 0.1;

    private Sd15() {
    }

    /** The sampler definition named {@code DDIM} or {@code DDPM}, read from SD 1.5's scheduler config. */
    public static SchedulerFactory scheduler(String sampler) {
        SchedulerProvider provider = switch (sampler) {
            case "DDIM" -> new DdimSchedulerProvider();
            case "DDPM" -> new DdpmSchedulerProvider();
            default -> throw new IllegalArgumentException("sampler " + sampler + ": expected DDIM or DDPM");
        };
        String file = "sd15_" + sampler.toLowerCase(java.util.Locale.ROOT) + "_scheduler_config.json";
        try (InputStream in = Sd15.class.getResourceAsStream(file)) {
            if (in == null) {
                throw new IllegalStateException("resource " + file + " is missing from the benchmarks jar");
            }
            return provider.load(JsonConfig.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Standard normal values of the given shape, as an edit's noise would be. */
    public static FloatTensor randn(long seed, int... shape) {
        return new TorchGenerator(seed).randn(shape);
    }

    /** Latents [batch, 4, size, size]. */
    public static int[] latentShape(int batch, int size) {
        return new int[] {batch, LATENT_CHANNELS, size, size};
    }
}
