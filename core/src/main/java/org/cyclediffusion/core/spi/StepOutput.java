package org.cyclediffusion.core.spi;

import org.cyclediffusion.core.tensor.FloatTensor;

/** Result of one scheduler step: x_{t-1} and the model's estimate of x_0. */
public record StepOutput(FloatTensor prevSample, FloatTensor predOriginalSample) {
}
