package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import org.cyclediffusion.benchmarks.LatentShapes;
import org.cyclediffusion.benchmarks.Sd15;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The host ↔ ONNX Runtime copies of every network call, as the ONNX backend makes them:
 * {@link OrtTensors#floats} of a {@link FloatTensor} into a tensor of the graph's element type (and
 * its release, as after a run) and {@link OrtTensors#toHost} of an output. Lives in the backend's
 * package to call that code rather than a copy. {@link #baselineCopy} clones an array of the same size.
 */
public class OrtCopyBenchmark extends LatentShapes {
    /** The graph's element type (float16 graphs are converted at the boundary). */
    @Param({"FLOAT", "FLOAT16"})
    public OnnxJavaType type;

    private FloatTensor host;
    private OnnxTensor output;

    @Setup
    public void setUp() {
        host = Sd15.randn(1, latentShape());
        output = OrtTensors.floats(host, type);
    }

    @TearDown
    public void tearDown() {
        output.close();
    }

    @Benchmark
    public float[] baselineCopy() {
        return host.data().clone();
    }

    /** FloatTensor → OnnxTensor, released as the backend releases its inputs after a run. */
    @Benchmark
    public long toOrt() {
        try (OnnxTensor t = OrtTensors.floats(host, type)) {
            return t.getInfo().getNumElements();
        }
    }

    /** OnnxTensor → FloatTensor (a network's output). */
    @Benchmark
    public FloatTensor toHost() {
        return OrtTensors.toHost(output);
    }
}
