package org.cyclediffusion.spark;

import java.io.Serializable;
import java.nio.file.Path;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.precision.AutoDType;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;

/**
 * What the job was asked to do; shipped to the executors with the partition function.
 *
 * @param model         the model folder as every executor sees it (a shared mount, or the name an
 *                      {@code --archives model.zip#name} unpacks to in the executor's working folder)
 * @param manifest      JSON lines ({@code .jsonl}, {@code .json}, {@code .ndjson}) or Parquet (a file or folder), any Hadoop URI
 * @param output        folder for the PNGs and the {@code results} table, any Hadoop URI
 * @param backend       null: chosen by the model folder's files
 * @param dtype         null: the backend's default for the device; {@code auto}: as {@code edit --dtype auto}, decided
 *                      on each executor (its CPU's kernels decide) and cached there
 * @param binaryFile    true: images are read on the driver's plan with Spark's {@code binaryFile} source; false: each
 *                      executor opens the image it needs through the Hadoop file system
 * @param partitions    0: Spark's default parallelism
 */
public record JobOptions(String model, String manifest, String output, String backend, String device, String dtype, boolean safetyChecker,
        boolean binaryFile, int partitions) implements Serializable {

    /**
     * The pipeline these options load, on an executor.
     *
     * @throws IllegalArgumentException naming the flag when the device or dtype is not one we know
     */
    PipelineLoader.Options loaderOptions() {
        Device dev;
        DType dt;
        try {
            dev = Device.parse(device);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--device: " + e.getMessage(), e);
        }
        try {
            dt = dtype == null || autoDType() ? null : DType.parse(dtype);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--dtype: " + e.getMessage(), e);
        }
        return new PipelineLoader.Options(Path.of(model), backend, dev, dt, safetyChecker);
    }

    /** Whether {@code --dtype auto} was asked for: {@link #loaderOptions()} then leaves the dtype to the executor. */
    boolean autoDType() {
        return AutoDType.requested(dtype);
    }
}
