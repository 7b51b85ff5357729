package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.benchmarks.LatentShapes;
import org.cyclediffusion.benchmarks.Sd15;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.random.TorchGenerator;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Everything {@link CycleDiffusionPipeline#edit} does in Java between two UNet calls of a
 * one-model guided edit (the issue-8 case), with the pipeline's own package-private pieces: the
 * stacked UNet input [src, tgt, src, tgt], the classifier-free guidance of both chains on rows of
 * the UNet output, the source chain's posterior sample and noise recovery, and the target chain's
 * step. Lives in the pipeline's package (the benchmarks jar shares its class loader) so that it
 * calls that code rather than a copy of it. {@link #baselineCopy} clones an array of the UNet
 * output's size ([4·batch, 4, size, size]).
 */
public class PipelineStepBenchmark extends LatentShapes {
    @Param({"DDIM", "DDPM"})
    public String sampler;

    private static final double GUIDANCE_SCALE = 2;
    private static final double SOURCE_GUIDANCE_SCALE = 1;

    private DpmEncoder encoder;
    private Scheduler targetScheduler;
    private int timestep;
    private FloatTensor clean;
    private FloatTensor sourceLatents;
    private FloatTensor targetLatents;
    private FloatTensor unetOutput;
    private NoiseSource noise;

    @Setup
    public void setUp() {
        SchedulerFactory factory = Sd15.scheduler(sampler);
        SamplerOptions options = new SamplerOptions(Sd15.ETA);
        encoder = factory.dpmEncoding().orElseThrow().encoder(options);
        targetScheduler = factory.create(options);
        encoder.setTimesteps(Sd15.NUM_INFERENCE_STEPS);
        targetScheduler.setTimesteps(Sd15.NUM_INFERENCE_STEPS);
        int[] timesteps = encoder.timesteps();
        timestep = timesteps[timesteps.length - 2];
        int[] shape = latentShape();
        clean = Sd15.randn(1, shape);
        sourceLatents = Sd15.randn(2, shape);
        targetLatents = Sd15.randn(3, shape);
        unetOutput = Sd15.randn(4, Sd15.latentShape(4 * batch, size));
        noise = new TorchGenerator(5);
    }

    @Benchmark
    public float[] baselineCopy() {
        return unetOutput.data().clone();
    }

    /** The UNet input of a guided one-model step: both chains' latents stacked twice. */
    @Benchmark
    public FloatTensor unetInput() {
        FloatTensor x = targetLatents;
        FloatTensor xs = sourceLatents;
        return FloatTensor.cat(xs, x, xs, x);
    }

    /** Classifier-free guidance of both chains on the rows of the stacked UNet output. */
    @Benchmark
    public void guidance(Blackhole bh) {
        FloatTensor out = unetOutput;
        bh.consume(StepRows.guide(out.rows(0, batch), out.rows(2 * batch, 3 * batch), SOURCE_GUIDANCE_SCALE));
        bh.consume(StepRows.guide(out.rows(batch, 2 * batch), out.rows(3 * batch, 4 * batch), GUIDANCE_SCALE));
    }

    /**
     * One whole step of {@code edit}'s loop without the UNet: input, guidance, the source chain's
     * advance (posterior sample + noise recovery) and the target chain's step. Fresh chains each
     * time, so every call starts from the same latents (a chain stepped again and again at one
     * timestep would drift).
     */
    @Benchmark
    public FloatTensor betweenUNetCalls(Blackhole bh) {
        SourceChain sourceChain = new SourceChain(encoder, clean, sourceLatents, noise);
        TargetChain targetChain = new TargetChain(targetScheduler, targetLatents);
        FloatTensor x = targetChain.modelInput(timestep);
        FloatTensor xs = sourceChain.modelInput(timestep);
        bh.consume(FloatTensor.cat(xs, x, xs, x));
        FloatTensor out = unetOutput;
        FloatTensor sourcePred = StepRows.guide(out.rows(0, batch), out.rows(2 * batch, 3 * batch), SOURCE_GUIDANCE_SCALE);
        FloatTensor pred = StepRows.guide(out.rows(batch, 2 * batch), out.rows(3 * batch, 4 * batch), GUIDANCE_SCALE);
        FloatTensor z = sourceChain.advance(timestep, sourcePred);
        targetChain.advance(timestep, pred, z);
        bh.consume(sourceChain.latents());
        return targetChain.latents();
    }
}
