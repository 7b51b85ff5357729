package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Closing the models while other threads are inside ONNX Runtime (issue 9: a close under a running
 * or loading session crashed the JVM). Each run either completes, or fails with a "closed" message;
 * nothing crashes, and every session is released.
 */
class OrtConcurrentCloseTest {
    private final ExecutorService pool = Executors.newFixedThreadPool(3);

    @AfterEach
    void stop() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS));
    }

    private static OrtModels open() {
        return OrtModels.open(ModelFolder.open(Fixtures.model("tiny-sd-onnx")), DType.FLOAT32,
                new OrtSessionFactory(Device.CPU, OrtSessionFactory.Tuning.defaults(), OrtModelCache.disabled()));
    }

    @Test
    void closeWhileUNetRunsOnOtherThreads() throws Exception {
        int before = OrtNetwork.LIVE_SESSIONS.get();
        try (Golden g = Golden.open("unet_tiny_sd")) {
            // a batch of 64 at 32x32 latents: each run takes long enough for the close to land inside one
            FloatTensor sample = FloatTensor.zeros(64, 4, 32, 32);
            FloatTensor hidden = g.f32("case1_encoder_hidden_states").row(0).repeatInterleave(64);
            for (int round = 0; round < 4; round++) {
                OrtModels models = open();
                Conditioning c = models.unet().condition(hidden);
                CountDownLatch running = new CountDownLatch(2);
                List<Future<Integer>> runners = new ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    runners.add(pool.submit(() -> {
                        running.countDown();
                        int done = 0;
                        while (true) {
                            try {
                                models.unet().predict(sample, 500, c);
                                done++;
                            } catch (CycleDiffusionException e) {
                                assertTrue(e.getMessage().contains("closed"), e.getMessage());
                                return done;
                            }
                        }
                    }));
                }
                running.await();
                Thread.sleep(20 + 60L * round);
                models.close();
                for (Future<Integer> f : runners) {
                    f.get(60, TimeUnit.SECONDS);
                }
                c.close();
            }
        }
        assertEquals(before, OrtNetwork.LIVE_SESSIONS.get(), "every session released");
    }

    @Test
    void closeWhileTheClipSkipSessionIsCreated() throws Exception {
        int before = OrtNetwork.LIVE_SESSIONS.get();
        try (Golden g = Golden.open("text_encoder_tiny_sd")) {
            long[][] ids = {java.util.Arrays.copyOf(g.i64("input_ids"), 77)};
            for (int round = 0; round < 4; round++) {
                OrtModels models = open();
                CountDownLatch started = new CountDownLatch(1);
                Future<?> encoding = pool.submit(() -> {
                    started.countDown();
                    try {
                        models.textEncoder().encode(ids, 1);
                    } catch (CycleDiffusionException e) {
                        assertTrue(e.getMessage().contains("closed"), e.getMessage());
                    }
                    return null;
                });
                started.await();
                Thread.sleep(5L * round);
                models.close();
                encoding.get(60, TimeUnit.SECONDS);
            }
        }
        assertEquals(before, OrtNetwork.LIVE_SESSIONS.get(), "the clip-skip session is released too, even when it was being created");
    }

    @Test
    void conditioningClosedDuringARunIsFreedAfterIt() throws Exception {
        try (OrtModels models = open(); Golden g = Golden.open("unet_tiny_sd")) {
            Conditioning c = models.unet().condition(g.f32("case1_encoder_hidden_states"));
            FloatTensor sample = g.f32("case1_sample");
            long t = g.i64("case1_timestep")[0];
            FloatTensor expected = models.unet().predict(sample, t, c);
            CountDownLatch go = new CountDownLatch(1);
            Future<FloatTensor> run = pool.submit(() -> {
                go.countDown();
                FloatTensor last = null;
                for (int i = 0; i < 50; i++) {
                    try {
                        last = models.unet().predict(sample, t, c);
                    } catch (CycleDiffusionException e) {
                        assertTrue(e.getMessage().contains("conditioning") && e.getMessage().contains("closed"), e.getMessage());
                        break;
                    }
                }
                return last;
            });
            go.await();
            c.close();
            FloatTensor last = run.get(60, TimeUnit.SECONDS);
            if (last != null && last.maxAbsDiff(expected) != 0) {
                fail("a run that overlapped the close read a freed conditioning: max |d| " + last.maxAbsDiff(expected));
            }
        }
    }
}
