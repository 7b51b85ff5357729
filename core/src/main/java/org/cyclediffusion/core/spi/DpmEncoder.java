package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The source chain of the DPM-Encoder (Wu and De la Torre 2022, §3): a {@link Scheduler} that can
 * also sample its own posterior and recover the noise of its own step.
 *
 * <p>The source chain is not moved by the model: it is sampled from the posterior
 * q(x_{t−1} | x_t, x_0), and the noise z_t that makes the sampler's own step land exactly there is
 * recovered and handed to the target chain. Obtained from {@link DpmEncoding#encoder}; a sampler
 * that cannot express both operations has no {@link DpmEncoding} and is refused at load.
 */
public interface DpmEncoder extends Scheduler {
    /**
     * A draw of x_{t−1} from the posterior q(x_{t−1} | x_t, x_0) of this sampler. Draws from
     * {@code noise} only when it needs randomness (diffusers returns {@code x0} with no draw when the
     * previous timestep is ≤ 0).
     */
    FloatTensor posteriorSample(FloatTensor sample, FloatTensor cleanSample, int timestep, NoiseSource noise);

    /**
     * The variance noise z_t such that {@code step(modelOutput, timestep, sample, z_t)} returns
     * {@code prevSample}. The model output is interpreted per {@link Scheduler#predictionType()}.
     */
    FloatTensor recoverNoise(FloatTensor prevSample, FloatTensor sample, int timestep, FloatTensor modelOutput);
}
