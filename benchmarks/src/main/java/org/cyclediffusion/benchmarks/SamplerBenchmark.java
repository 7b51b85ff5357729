package org.cyclediffusion.benchmarks;

import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.StepOutput;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * The sampler's Java math of one step at SD 1.5's full-size latent shapes, through the public SPI
 * as the pipeline calls it: the target chain's {@code step}, and the source chain's
 * {@code posteriorSample} (one draw from the torch-compatible generator, timed apart in
 * {@link #randn}) and {@code recoverNoise}. {@link #baselineCopy} clones an array of the same
 * size, so every figure reads as a multiple of one pass over the latents.
 */
public class SamplerBenchmark extends LatentShapes {
    @Param({"DDIM", "DDPM"})
    public String sampler;

    private DpmEncoder scheduler;
    private int timestep;
    private FloatTensor sample;
    private FloatTensor clean;
    private FloatTensor modelOutput;
    private FloatTensor prevSample;
    private FloatTensor varianceNoise;
    private NoiseSource noise;

    @Setup
    public void setUp() {
        scheduler = Sd15.scheduler(sampler).dpmEncoding().orElseThrow().encoder(new SamplerOptions(Sd15.ETA));
        scheduler.setTimesteps(Sd15.NUM_INFERENCE_STEPS);
        int[] timesteps = scheduler.timesteps();
        // The first of the issue-8 edit's two timesteps (101): its previous timestep is above 0, so
        // the posterior sample draws noise, as every step but the last does.
        timestep = timesteps[timesteps.length - 2];
        int[] shape = latentShape();
        clean = Sd15.randn(1, shape);
        sample = Sd15.randn(2, shape);
        modelOutput = Sd15.randn(3, shape);
        noise = new TorchGenerator(4);
        prevSample = scheduler.posteriorSample(sample, clean, timestep, noise);
        varianceNoise = scheduler.recoverNoise(prevSample, sample, timestep, modelOutput);
    }

    @Benchmark
    public float[] baselineCopy() {
        return sample.data().clone();
    }

    /** The target chain's step x_t → x_{t−1} with the latent code's z_t. */
    @Benchmark
    public StepOutput step() {
        return scheduler.step(modelOutput, timestep, sample, varianceNoise);
    }

    /** The source chain's draw from q(x_{t−1} | x_t, x_0), including the generator's normal draw. */
    @Benchmark
    public FloatTensor posteriorSample() {
        return scheduler.posteriorSample(sample, clean, timestep, noise);
    }

    /** The generator's draw alone (the part of {@link #posteriorSample} that is not the sampler's arithmetic). */
    @Benchmark
    public FloatTensor randn() {
        return noise.randn(sample.shape());
    }

    /** The source chain's z_t such that the step lands on its posterior sample. */
    @Benchmark
    public FloatTensor recoverNoise() {
        return scheduler.recoverNoise(prevSample, sample, timestep, modelOutput);
    }
}
