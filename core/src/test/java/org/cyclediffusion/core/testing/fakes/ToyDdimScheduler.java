package org.cyclediffusion.core.testing.fakes;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;
import org.cyclediffusion.core.random.NoiseSource;
import org.cyclediffusion.core.spi.DpmEncoder;
import org.cyclediffusion.core.spi.DpmEncoding;
import org.cyclediffusion.core.spi.Fingerprints;
import org.cyclediffusion.core.spi.PredictionType;
import org.cyclediffusion.core.spi.SamplerOptions;
import org.cyclediffusion.core.spi.Scheduler;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.spi.StepOutput;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * A deliberately small DDIM (epsilon prediction, leading spacing, scaled-linear betas) so that
 * core's pipeline tests need no other module. It is also the "researcher's scheduler" that the
 * discovery test finds under its own {@code _class_name}, registered only in test resources.
 */
public final class ToyDdimScheduler implements DpmEncoder {
    public static final String CLASS_NAME = "ToyDDIMScheduler";
    private final int trainSteps;
    private final double[] alphasCumprod;
    private final float eta;
    private int steps;
    private int[] timesteps = new int[0];

    public ToyDdimScheduler(int trainSteps, double betaStart, double betaEnd, double eta) {
        if (!(eta > 0) || Double.isInfinite(eta)) {
            throw new IllegalArgumentException("eta = " + eta + ": the DPM-Encoder needs a stochastic sampler, expected eta > 0");
        }
        this.trainSteps = trainSteps;
        this.eta = (float) eta;
        alphasCumprod = new double[trainSteps];
        double prod = 1;
        for (int i = 0; i < trainSteps; i++) {
            double s = Math.sqrt(betaStart) + (Math.sqrt(betaEnd) - Math.sqrt(betaStart)) * i / (trainSteps - 1);
            prod *= 1 - s * s;
            alphasCumprod[i] = prod;
        }
    }

    /** The definition: fresh chains for each edit, and the DPM-Encoder capability. */
    public static SchedulerFactory factory(int trainSteps, double betaStart, double betaEnd) {
        return new SchedulerFactory() {
            @Override
            public String className() {
                return CLASS_NAME;
            }

            @Override
            public String noiseScheduleDigest() {
                float[] betas = new float[trainSteps];
                for (int i = 0; i < trainSteps; i++) {
                    double s = Math.sqrt(betaStart) + (Math.sqrt(betaEnd) - Math.sqrt(betaStart)) * i / (trainSteps - 1);
                    betas[i] = (float) (s * s);
                }
                return Fingerprints.noiseSchedule(betas);
            }

            @Override
            public String configDigest() {
                ObjectNode c = JsonNodeFactory.instance.objectNode().put("num_train_timesteps", trainSteps).put("beta_start", betaStart)
                        .put("beta_end", betaEnd);
                return Fingerprints.config(CLASS_NAME, c);
            }

            @Override
            public Scheduler create(SamplerOptions options) {
                return new ToyDdimScheduler(trainSteps, betaStart, betaEnd, options.eta());
            }

            @Override
            public Optional<DpmEncoding> dpmEncoding() {
                return Optional.of(options -> new ToyDdimScheduler(trainSteps, betaStart, betaEnd, options.eta()));
            }
        };
    }

    /** Stable Diffusion's schedule. */
    public static SchedulerFactory factory() {
        return factory(1000, 0.00085, 0.012);
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

    private double sigma(int t) {
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
    public StepOutput step(FloatTensor eps, int t, FloatTensor x, FloatTensor z) {
        double a = alpha(t);
        double ap = alpha(prev(t));
        double s = sigma(t);
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
    public FloatTensor posteriorSample(FloatTensor x, FloatTensor x0, int t, NoiseSource noise) {
        if (prev(t) <= 0) {
            return x0;
        }
        double a = alpha(t);
        double ap = alpha(prev(t));
        double s = sigma(t);
        FloatTensor n = noise.randn(x0.shape());
        float[] out = new float[x.size()];
        for (int i = 0; i < out.length; i++) {
            double e = (x.data()[i] - Math.sqrt(a) * x0.data()[i]) / Math.sqrt(1 - a);
            out[i] = (float) (Math.sqrt(ap) * x0.data()[i] + Math.sqrt(1 - ap - s * s) * e + s * n.data()[i]);
        }
        return new FloatTensor(out, x.shape());
    }

    @Override
    public FloatTensor recoverNoise(FloatTensor prevX, FloatTensor x, int t, FloatTensor eps) {
        double a = alpha(t);
        double ap = alpha(prev(t));
        double s = sigma(t);
        float[] out = new float[x.size()];
        for (int i = 0; i < out.length; i++) {
            double pred0 = (x.data()[i] - Math.sqrt(1 - a) * eps.data()[i]) / Math.sqrt(a);
            double mean = Math.sqrt(ap) * pred0 + Math.sqrt(1 - ap - s * s) * eps.data()[i];
            out[i] = (float) ((prevX.data()[i] - mean) / s);
        }
        return new FloatTensor(out, x.shape());
    }
}
