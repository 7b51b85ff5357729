package org.cyclediffusion.core.spi;

import java.util.List;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * What {@code --dtype auto} asks of a backend ({@link BackendProvider#precisionProbe}): run the
 * model's UNet, the network that takes nearly all of an edit's time, at a small fixed probe shape in
 * one precision, on the same input every time, and time it. The policy (which precision wins) is
 * {@code org.cyclediffusion.core.precision.AutoDType}'s; the backend only measures.
 */
public interface PrecisionProbe extends AutoCloseable {
    /** The reduced precisions this backend can run on this device (fp32, the reference, is always measured). */
    List<DType> candidates();

    /**
     * What the measurement depends on besides the CPU and the model files, for the decision cache:
     * backend name and version, device, and any setting of the natives that changes the kernels.
     */
    String fingerprint();

    /**
     * Loads the UNet in {@code dtype}, runs it once to warm up, then {@code repetitions} times, unless
     * the warm-up alone took longer than {@code giveUpSeconds}: such a precision cannot win, and on a
     * CPU without its instructions (float16 without AVX512-FP16) each run can take minutes at full size.
     *
     * @return the last output (as float32 on the host) and the fastest run (the warm-up's time when given up)
     */
    Trial run(DType dtype, int repetitions, double giveUpSeconds);

    /** One precision's measurement; {@code warmUpOnly} when the timed runs were given up. */
    record Trial(DType dtype, FloatTensor output, double seconds, boolean warmUpOnly) {
        public Trial(DType dtype, FloatTensor output, double seconds) {
            this(dtype, output, seconds, false);
        }
    }

    @Override
    void close();
}
