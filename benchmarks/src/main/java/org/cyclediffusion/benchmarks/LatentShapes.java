package org.cyclediffusion.benchmarks;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The settings every benchmark here shares (JMH's annotations are inherited) and SD 1.5's
 * full-size latent shapes [batch, 4, size, size] they run at. Each benchmark class has a
 * {@code baselineCopy} that clones a float array of the size it handles, so that its figures read
 * as multiples of one pass over that memory, measured in the same run.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public abstract class LatentShapes {
    /** Latent rows: images per edit, or for a tensor that crosses a boundary its rows (4 is a one-image guided edit's UNet batch). */
    @Param({"1", "4"})
    public int batch;

    /** Latent height and width: 32 for a 256² image, 64 for 512². */
    @Param({"32", "64"})
    public int size;

    /** [batch, 4, size, size]. */
    protected int[] latentShape() {
        return Sd15.latentShape(batch, size);
    }
}
