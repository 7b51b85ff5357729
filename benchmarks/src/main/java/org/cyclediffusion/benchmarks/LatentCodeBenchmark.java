package org.cyclediffusion.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.cyclediffusion.core.pipeline.LatentCode;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A latent code's safetensors file: {@link LatentCode#save} (atomic: a temporary file forced to
 * disk, then renamed) and {@link LatentCode#load}, with the noises at the [steps, N, C, h, w]
 * shape of SD 1.5's full-size latents. {@link #baselineCopy} clones a float array of the code's
 * size (start latents and noises); the file system under {@code java.io.tmpdir} decides the rest.
 */
public class LatentCodeBenchmark extends LatentShapes {
    /** z_t per code: 2 for the issue-8 edit (10 steps at strength 0.2), 10 for a whole schedule. */
    @Param({"2", "10"})
    public int steps;

    private Path dir;
    private Path saved;
    private Path written;
    private LatentCode code;
    private float[] together;

    @Setup
    public void setUp() throws IOException {
        SchedulerFactory scheduler = Sd15.scheduler("DDIM");
        int[] shape = latentShape();
        FloatTensor start = Sd15.randn(1, shape);
        FloatTensor noises = Sd15.randn(2, steps, batch, Sd15.LATENT_CHANNELS, size, size);
        int[] timesteps = new int[steps];
        for (int i = 0; i < steps; i++) {
            timesteps[i] = 1 + 100 * (steps - 1 - i);
        }
        int side = size * Sd15.VAE_SCALE_FACTOR;
        code = new LatentCode(scheduler.className(), scheduler.noiseScheduleDigest(), scheduler.configDigest(), timesteps, 10 * steps / 2,
                0.2, Sd15.ETA, start, noises, side, side, batch, 1, 0.18215f, "benchmark", null);
        together = new float[start.size() + noises.size()];
        dir = Files.createTempDirectory("cyclediffusion-jmh");
        saved = dir.resolve("code.safetensors");
        written = dir.resolve("written.safetensors");
        code.save(saved);
    }

    @TearDown
    public void tearDown() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    @Benchmark
    public float[] baselineCopy() {
        return together.clone();
    }

    @Benchmark
    public void save() {
        code.save(written);
    }

    @Benchmark
    public LatentCode load() {
        return LatentCode.load(saved);
    }
}
