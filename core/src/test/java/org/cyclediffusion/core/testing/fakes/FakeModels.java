package org.cyclediffusion.core.testing.fakes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.spi.LatentDistribution;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyModel;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.spi.Vae;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Pure-Java stand-ins for the three networks, analytic and row-independent, for unit tests of the
 * pipeline. Not a backend: nothing here claims parity with diffusers.
 */
public final class FakeModels implements Models {
    public static final int HIDDEN = 8;
    public final AtomicInteger unetCalls = new AtomicInteger();
    public final AtomicInteger openConditionings = new AtomicInteger();
    public volatile int lastUnetBatch;
    /**
     * Every network pass ({@code text}, {@code vae.encode}, {@code unet}, {@code vae.decode}) and every
     * {@link #releaseResidentWeights} ({@code release PHASE}) in order, for tests of when weights are released.
     */
    public final List<String> events = Collections.synchronizedList(new ArrayList<>());
    private boolean closed;

    private final TextEncoder textEncoder = new TextEncoder() {
        @Override
        public FloatTensor encode(long[][] ids, int clipSkip) {
            events.add("text");
            int b = ids.length;
            int len = ids[0].length;
            float[] out = new float[b * len * HIDDEN];
            for (int i = 0; i < b; i++) {
                for (int p = 0; p < len; p++) {
                    for (int d = 0; d < HIDDEN; d++) {
                        out[(i * len + p) * HIDDEN + d] = (float) Math.sin(ids[i][p] * 0.013 + d * 0.7 + p * 0.05 + clipSkip);
                    }
                }
            }
            return new FloatTensor(out, b, len, HIDDEN);
        }

        @Override
        public int hiddenSize() {
            return HIDDEN;
        }

        @Override
        public void close() {
        }
    };

    /** Conditioning that keeps a per-row summary of the hidden states. */
    private final class FakeConditioning implements Conditioning {
        final float[][] summary;

        FakeConditioning(FloatTensor ehs) {
            int b = ehs.dim(0);
            int per = ehs.rowSize();
            summary = new float[b][4];
            for (int i = 0; i < b; i++) {
                for (int k = 0; k < per; k++) {
                    summary[i][k % 4] += ehs.data()[i * per + k] / per;
                }
            }
            openConditionings.incrementAndGet();
        }

        @Override
        public int batch() {
            return summary.length;
        }

        @Override
        public void close() {
            openConditionings.decrementAndGet();
        }
    }

    private final UNet unet = new UNet() {
        @Override
        public Conditioning condition(FloatTensor encoderHiddenStates) {
            return new FakeConditioning(encoderHiddenStates);
        }

        @Override
        public FloatTensor predict(FloatTensor latents, long timestep, Conditioning conditioning) {
            FakeConditioning c = (FakeConditioning) conditioning;
            if (latents.dim(0) != c.batch()) {
                throw new IllegalArgumentException("batch " + latents.dim(0) + " vs conditioning " + c.batch());
            }
            unetCalls.incrementAndGet();
            events.add("unet");
            lastUnetBatch = latents.dim(0);
            int b = latents.dim(0);
            int ch = latents.dim(1);
            int plane = latents.dim(2) * latents.dim(3);
            float[] x = latents.data();
            float[] out = new float[x.length];
            float tt = (float) Math.sin(timestep / 97.0);
            for (int i = 0; i < b; i++) {
                for (int k = 0; k < ch; k++) {
                    for (int p = 0; p < plane; p++) {
                        int idx = (i * ch + k) * plane + p;
                        out[idx] = 0.3f * x[idx] + 2f * c.summary[i][k % 4] + 0.1f * tt * (float) Math.cos(p * 0.3);
                    }
                }
            }
            return new FloatTensor(out, latents.shape());
        }

        @Override
        public int inChannels() {
            return 4;
        }

        @Override
        public void close() {
        }
    };

    private final Vae vae = new Vae() {
        @Override
        public LatentDistribution encode(FloatTensor pixels) {
            events.add("vae.encode");
            int b = pixels.dim(0);
            int h = pixels.dim(2) / 8;
            int w = pixels.dim(3) / 8;
            int hh = pixels.dim(2);
            int ww = pixels.dim(3);
            float[] mean = new float[b * 4 * h * w];
            float[] logvar = new float[mean.length];
            for (int i = 0; i < b; i++) {
                for (int c = 0; c < 4; c++) {
                    for (int y = 0; y < h; y++) {
                        for (int x = 0; x < w; x++) {
                            float s = 0;
                            for (int dy = 0; dy < 8; dy++) {
                                for (int dx = 0; dx < 8; dx++) {
                                    s += pixels.data()[((i * 3 + c % 3) * hh + y * 8 + dy) * ww + x * 8 + dx];
                                }
                            }
                            int idx = ((i * 4 + c) * h + y) * w + x;
                            mean[idx] = s / 64f + (c == 3 ? 0.5f : 0f);
                            logvar[idx] = -4f;
                        }
                    }
                }
            }
            return new LatentDistribution(new FloatTensor(mean, b, 4, h, w), new FloatTensor(logvar, b, 4, h, w));
        }

        @Override
        public FloatTensor decode(FloatTensor latents) {
            events.add("vae.decode");
            int b = latents.dim(0);
            int h = latents.dim(2);
            int w = latents.dim(3);
            float[] out = new float[b * 3 * h * 8 * w * 8];
            for (int i = 0; i < b; i++) {
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < h * 8; y++) {
                        for (int x = 0; x < w * 8; x++) {
                            out[((i * 3 + c) * h * 8 + y) * w * 8 + x] = (float) Math.tanh(latents.data()[((i * 4 + c) * h + y / 8) * w + x / 8]);
                        }
                    }
                }
            }
            return new FloatTensor(out, b, 3, h * 8, w * 8);
        }

        @Override
        public float scalingFactor() {
            return 0.18215f;
        }

        @Override
        public int scaleFactor() {
            return 8;
        }

        @Override
        public void close() {
        }
    };

    @Override
    public TextEncoder textEncoder() {
        return textEncoder;
    }

    @Override
    public UNet unet() {
        return unet;
    }

    @Override
    public Vae vae() {
        return vae;
    }

    @Override
    public Optional<SafetyModel> safetyModel() {
        return Optional.empty();
    }

    @Override
    public void releaseResidentWeights(EditPhase phase) {
        events.add("release " + phase);
    }

    @Override
    public String description() {
        return "fake";
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
    }
}
