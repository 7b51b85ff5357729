package org.cyclediffusion.core.testing.fakes;

import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.spi.DpmEncodable;
import org.cyclediffusion.core.spi.PredictionType;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.StepOutput;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * A deliberately small DDIM (epsilon prediction, leading spacing, scaled-linear betas) so that
 * core's pipeline tests need no other module. It is also the "researcher's scheduler" that the
 * discovery test finds under its own {@code _class_name}, registered only in test resources.
 */
public final class ToyDdimScheduler implements Scheduler, DpmEncodable {
    public static final String CLASS_NAME = "ToyDDIMScheduler";
    private final int trainSteps;
    private final double[] alphasCumprod;
    private int steps;
    private int[] timesteps = new int[0];

    public ToyDdimScheduler(int trainSteps, double betaStart, double betaEnd) {
        this.trainSteps = trainSteps;
        alphasCumprod = new double[trainSteps];
        double prod = 1;
        for (int i = 0; i < trainSteps; i++) {
            double s = Math.sqrt(betaStart) + (Math.sqrt(betaEnd) - Math.sqrt(betaStart)) * i / (trainSteps - 1);
            prod *= 1 - s * s;
            alphasCumprod[i] = prod;
        }
    }

    @Override
    public int numTrainTimesteps() {
        return trainSteps;
    }

    @Override
    public void setTimesteps(int n) {
        steps = n;
        timesteps = new int[n];
        int ratio = trainSteps / n;
        for (int i = 0; i < n; i++) {
            timesteps[i] = (n - 1 - i) * ratio + 1;
        }
    }

    @Override
    public int numInferenceSteps() {
        return steps;
    }

    @Override
    public int[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public PredictionType predictionType() {
        return PredictionType.EPSILON;
    }

    @Override
    public FloatTensor scaleModelInput(FloatTensor sample, int timestep) {
        return sample;
    }

    private double alpha(int t) {
        return t >= 0 ? alphasCumprod[t] : alphasCumprod[0];
    }

    private int prev(int t) {
        return t - trainSteps / steps;
    }

    private double sigma(int t, float eta) {
        double a = alpha(t);
        double ap = alpha(prev(t));
        return eta * Math.sqrt((1 - ap) / (1 - a) * (1 - a / ap));
    }

    @Override
    public FloatTensor addNoise(FloatTensor x0, FloatTensor noise, int[] ts) {
        int per = x0.rowSize();
        float[] out = new float[x0.size()];
        for (int i = 0; i < out.length; i++) {
            double a = alpha(ts[i / per]);
            out[i] = (float) (Math.sqrt(a) * x0.data()[i] + Math.sqrt(1 - a) * noise.data()[i]);
        }
        return new FloatTensor(out, x0.shape());
    }

    @Override
    public StepOutput step(FloatTensor eps, int t, FloatTensor x, float eta, FloatTensor z) {
        double a = alpha(t);
        double ap = alpha(prev(t));
        double s = sigma(t, eta);
        float[] out = new float[x.size()];
        float[] x0 = new float[x.size()];
        for (int i = 0; i < out.length; i++) {
            double pred0 = (x.data()[i] - Math.sqrt(1 - a) * eps.data()[i]) / Math.sqrt(a);
            x0[i] = (float) pred0;
            out[i] = (float) (Math.sqrt(ap) * pred0 + Math.sqrt(1 - ap - s * s) * eps.data()[i] + (z == null ? 0 : s * z.data()[i]));
        }
        return new StepOutput(new FloatTensor(out, x.shape()), new FloatTensor(x0, x.shape()));
    }

    @Override
    public FloatTensor posteriorSample(FloatTensor x, FloatTensor x0, int t, float eta, NoiseSource noise) {
        if (prev(t) <= 0) {
            return x0;
        }
        double a = alpha(t);
        double ap = alpha(prev(t));
        double s = sigma(t, eta);
        FloatTensor n = noise.randn(x0.shape());
        float[] out = new float[x.size()];
        for (int i = 0; i < out.length; i++) {
            double e = (x.data()[i] - Math.sqrt(a) * x0.data()[i]) / Math.sqrt(1 - a);
            out[i] = (float) (Math.sqrt(ap) * x0.data()[i] + Math.sqrt(1 - ap - s * s) * e + s * n.data()[i]);
        }
        return new FloatTensor(out, x.shape());
    }

    @Override
    public FloatTensor recoverNoise(FloatTensor prevX, FloatTensor x, int t, FloatTensor eps, float eta) {
        double a = alpha(t);
        double ap = alpha(prev(t));
        double s = sigma(t, eta);
        float[] out = new float[x.size()];
        for (int i = 0; i < out.length; i++) {
            double pred0 = (x.data()[i] - Math.sqrt(1 - a) * eps.data()[i]) / Math.sqrt(a);
            double mean = Math.sqrt(ap) * pred0 + Math.sqrt(1 - ap - s * s) * eps.data()[i];
            out[i] = (float) ((prevX.data()[i] - mean) / s);
        }
        return new FloatTensor(out, x.shape());
    }
}
