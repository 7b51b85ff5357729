package org.cyclediffusion.core.precision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.BackendProvider;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.PrecisionProbe;
import org.cyclediffusion.core.spi.PrecisionProbe.Trial;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AutoDTypeTest {
    /** fp32 output spanning [-1, 1]: range 2, so an error of e is e/2 of the range. */
    private static final float[] REF = {-1f, -0.5f, 0f, 0.5f, 1f};

    private static Trial trial(DType d, double seconds, float error) {
        float[] out = REF.clone();
        out[2] += error;
        return new Trial(d, new FloatTensor(out, out.length), seconds);
    }

    private static Trial reference(double seconds) {
        return trial(DType.FLOAT32, seconds, 0);
    }

    @Test
    void aFasterCandidateWithinToleranceWins() {
        AutoDType.Decision d = AutoDType.choose(reference(1.0), List.of(trial(DType.BFLOAT16, 0.5, 0.02f)), 0.02, 1.1);
        assertEquals(DType.BFLOAT16, d.dtype(), d.reason());
        assertTrue(d.reason().contains("bf16 0.500 s, max |Δ| 1.00% of range"), d.reason());
        assertTrue(d.line().startsWith("dtype auto: bf16 (UNet probe: fp32 1.000 s"), d.line());
    }

    @Test
    void aCandidateOverToleranceIsRejectedHoweverFast() {
        // issue 8's defect: 22% of the range
        AutoDType.Decision d = AutoDType.choose(reference(1.0), List.of(trial(DType.BFLOAT16, 0.1, 0.44f)), 0.02, 1.1);
        assertEquals(DType.FLOAT32, d.dtype());
        assertTrue(d.reason().contains("22.00% of range (over)"), d.reason());
    }

    @Test
    void justOverTheToleranceIsRejectedJustUnderIsKept() {
        assertEquals(DType.FLOAT32, AutoDType.choose(reference(1.0), List.of(trial(DType.BFLOAT16, 0.5, 0.0402f)), 0.02, 1.1).dtype());
        assertEquals(DType.BFLOAT16, AutoDType.choose(reference(1.0), List.of(trial(DType.BFLOAT16, 0.5, 0.0398f)), 0.02, 1.1).dtype());
    }

    @Test
    void aSpeedUpWithinTimingNoiseKeepsFloat32() {
        assertEquals(DType.FLOAT32, AutoDType.choose(reference(1.0), List.of(trial(DType.BFLOAT16, 0.95, 0.001f)), 0.02, 1.1).dtype());
        assertEquals(DType.BFLOAT16, AutoDType.choose(reference(1.0), List.of(trial(DType.BFLOAT16, 0.9, 0.001f)), 0.02, 1.1).dtype());
    }

    @Test
    void theFastestQualifyingCandidateWins() {
        List<Trial> both = List.of(trial(DType.BFLOAT16, 0.6, 0.02f), trial(DType.FLOAT16, 0.4, 0.002f));
        assertEquals(DType.FLOAT16, AutoDType.choose(reference(1.0), both, 0.02, 1.1).dtype());
        List<Trial> fastButWrong = List.of(trial(DType.BFLOAT16, 0.6, 0.02f), trial(DType.FLOAT16, 0.4, 0.2f));
        assertEquals(DType.BFLOAT16, AutoDType.choose(reference(1.0), fastButWrong, 0.02, 1.1).dtype());
    }

    @Test
    void nanOutputOrASlowerCandidateNeverWins() {
        assertEquals(DType.FLOAT32, AutoDType.choose(reference(1.0), List.of(trial(DType.FLOAT16, 0.2, Float.NaN)), 0.02, 1.1).dtype());
        AutoDType.Decision slow = AutoDType.choose(reference(1.0), List.of(new Trial(DType.FLOAT16, reference(1.0).output(), 5.0, true)),
                0.02, 1.1);
        assertEquals(DType.FLOAT32, slow.dtype());
        assertTrue(slow.reason().contains("fp16 5.000 s (warm-up only), max |Δ| 0.00% of range"), slow.reason());
    }

    /** A backend whose probe returns scripted trials and counts the runs. */
    private static final class FakeBackend implements BackendProvider {
        final Map<DType, Trial> trials;
        final List<DType> runs = new ArrayList<>();
        final List<Double> giveUps = new ArrayList<>();
        String fingerprint = "fake 1.0 cpu";
        boolean probes = true;
        int closed;

        FakeBackend(Map<DType, Trial> trials) {
            this.trials = trials;
        }

        @Override
        public String name() {
            return "fake";
        }

        @Override
        public List<String> devices() {
            return List.of("cpu");
        }

        @Override
        public boolean canOpen(ModelFolder folder) {
            return true;
        }

        @Override
        public Models open(ModelFolder folder, Device device, DType dtype) {
            throw new UnsupportedOperationException("the policy never opens the models");
        }

        @Override
        public Optional<PrecisionProbe> precisionProbe(ModelFolder folder, Device device) {
            if (!probes) {
                return Optional.empty();
            }
            return Optional.of(new PrecisionProbe() {
                @Override
                public List<DType> candidates() {
                    return List.of(DType.BFLOAT16, DType.FLOAT16);
                }

                @Override
                public String fingerprint() {
                    return fingerprint;
                }

                @Override
                public Trial run(DType dtype, int repetitions, double giveUpSeconds) {
                    runs.add(dtype);
                    giveUps.add(giveUpSeconds);
                    return trials.get(dtype);
                }

                @Override
                public void close() {
                    closed++;
                }
            });
        }
    }

    @Test
    void resolveMeasuresOnceThenReadsTheCache(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("sub/dtype-auto.json");
        FakeBackend b = new FakeBackend(Map.of(DType.FLOAT32, reference(1.0), DType.BFLOAT16, trial(DType.BFLOAT16, 0.5, 0.01f),
                DType.FLOAT16, trial(DType.FLOAT16, 2.0, 0.001f)));
        ModelFolder folder = ModelFolder.open(Fixtures.model("tiny-sd"));

        AutoDType.Decision first = AutoDType.resolve(b, folder, Device.CPU, cache);
        assertEquals(DType.BFLOAT16, first.dtype());
        assertFalse(first.cached());
        assertEquals(List.of(DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16), b.runs);
        assertEquals(List.of(Double.POSITIVE_INFINITY, 4.0, 4.0), b.giveUps, "candidates give up at 4x fp32's time");
        assertTrue(Files.readString(cache).contains("\"dtype\" : \"bf16\""), Files.readString(cache));

        AutoDType.Decision second = AutoDType.resolve(b, folder, Device.CPU, cache);
        assertEquals(DType.BFLOAT16, second.dtype());
        assertTrue(second.cached());
        assertEquals(first.reason(), second.reason());
        assertEquals(3, b.runs.size(), "a cached decision runs nothing");
        assertEquals(2, b.closed, "the probe is closed every time");

        b.fingerprint = "fake 2.0 cpu"; // another backend version measures again
        assertFalse(AutoDType.resolve(b, folder, Device.CPU, cache).cached());
        assertEquals(6, b.runs.size());
    }

    @Test
    void aChangeToAnyShardOfTheUNetMeasuresAgain(@TempDir Path dir) throws Exception {
        Path root = ModelCopies.shardedCopy(Fixtures.model("tiny-sd"), dir.resolve("tiny-sd"), 3, "unet");
        Path cache = dir.resolve("dtype-auto.json");
        FakeBackend b = new FakeBackend(Map.of(DType.FLOAT32, reference(1.0), DType.BFLOAT16, trial(DType.BFLOAT16, 0.5, 0.01f),
                DType.FLOAT16, trial(DType.FLOAT16, 2.0, 0.001f)));
        assertFalse(AutoDType.resolve(b, ModelFolder.open(root), Device.CPU, cache).cached());
        assertTrue(AutoDType.resolve(b, ModelFolder.open(root), Device.CPU, cache).cached());
        // re-saving the last shard alone (same size, a later time) is another model
        Path last = root.resolve("unet/diffusion_pytorch_model-00003-of-00003.safetensors");
        Files.setLastModifiedTime(last, FileTime.fromMillis(Files.getLastModifiedTime(last).toMillis() + 60_000));
        assertFalse(AutoDType.resolve(b, ModelFolder.open(root), Device.CPU, cache).cached());
        assertTrue(AutoDType.resolve(b, ModelFolder.open(root), Device.CPU, cache).cached());
    }

    @Test
    void aDamagedCacheIsMeasuredAgainAndRewritten(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("dtype-auto.json");
        Files.writeString(cache, "{not json");
        FakeBackend b = new FakeBackend(Map.of(DType.FLOAT32, reference(1.0), DType.BFLOAT16, trial(DType.BFLOAT16, 2.0, 0.01f),
                DType.FLOAT16, trial(DType.FLOAT16, 2.0, 0.001f)));
        AutoDType.Decision d = AutoDType.resolve(b, ModelFolder.open(Fixtures.model("tiny-sd")), Device.CPU, cache);
        assertEquals(DType.FLOAT32, d.dtype(), "slower candidates leave fp32");
        assertTrue(Files.readString(cache).contains("\"dtype\" : \"fp32\""));
    }

    @Test
    void aBackendWithoutProbeKeepsItsDefault(@TempDir Path dir) {
        FakeBackend b = new FakeBackend(Map.of());
        b.probes = false;
        AutoDType.Decision d = AutoDType.resolve(b, ModelFolder.open(Fixtures.model("tiny-sd")), Device.CPU, dir.resolve("c.json"));
        assertEquals(DType.FLOAT32, d.dtype());
        assertTrue(b.runs.isEmpty());
        assertFalse(Files.exists(dir.resolve("c.json")));
    }
}
