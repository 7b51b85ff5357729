package org.cyclediffusion.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The real files: every golden and every tiny-model weight file opens and every tensor converts. */
class SafetensorsFixturesTest {
    @Test
    void ddimGoldenHoldsWhatDiffusersComputes() {
        try (Golden g = Golden.open("ddim")) {
            assertEquals("pt", g.file().metadata().get("format"));
            float[] betas = g.f32("betas").data();
            float[] alphasCumprod = g.f32("alphas_cumprod").data();
            assertEquals(1000, betas.length);
            // scaled_linear: beta_0 = sqrt(0.00085)^2, and alphas_cumprod[0] = 1 - beta_0.
            assertEquals(0.00085f, betas[0], 1e-10f);
            assertEquals(1f - betas[0], alphasCumprod[0], 1e-7f);
            FloatTensor scalar = g.f32("final_alpha_cumprod");
            assertEquals(0, scalar.rank(), "a 0-d tensor");
            assertEquals(alphasCumprod[0], scalar.data()[0]);
            // Leading spacing with steps_offset 1, as SD configs set it.
            assertArrayEquals(new long[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, g.i64("timesteps_leading_n10_s1p0"));
        }
    }

    @Test
    void everyGoldenOpensAndEveryTensorConverts() throws IOException {
        List<String> names;
        try (Stream<Path> files = Files.list(Fixtures.golden(""))) {
            names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors"))
                    .map(n -> n.substring(0, n.length() - ".safetensors".length())).sorted().collect(Collectors.toList());
        }
        assertTrue(names.size() >= 26, "goldens found: " + names);
        long tensors = 0;
        for (String name : names) {
            try (Golden g = Golden.open(name)) {
                for (SafetensorsFile.TensorInfo t : g.file().tensors().values()) {
                    tensors++;
                    switch (t.dtype()) {
                        case F32 -> assertArrayEquals(t.intShape(), g.f32(t.name()).shape(), name + "/" + t.name());
                        case I64 -> assertEquals(t.numel(), g.i64(t.name()).length, name + "/" + t.name());
                        default -> throw new AssertionError(name + "/" + t.name() + ": goldens hold F32 and I64 only, found " + t.dtype());
                    }
                }
            }
        }
        assertTrue(tensors > 600, "tensors read: " + tensors);
    }

    /**
     * Tensor count, element count, sum and sum of |x| over the whole file, as numpy computes them
     * from the raw bytes (an independent reader); the Java sums are sequential, numpy's pairwise, so
     * they agree to ~1e-12 relative, far tighter than any decoding error would allow.
     */
    @ParameterizedTest
    @CsvSource({
        "tiny-sd/unet/diffusion_pytorch_model.safetensors,      494, 2164452, 4536.77636718908,  79222.01801351516",
        "tiny-sd/vae/diffusion_pytorch_model.safetensors,       180, 1028935, 1899.0044621069273, 26546.898389060567",
        "tiny-sd/text_encoder/model.safetensors,                 84, 1617529, 316.7007066837706,  27933.44407939609",
        "tiny-sd/safety_checker/model.safetensors,               60,  121283, 236.74334706597355, 3685.8555685835213",
        "tiny-sd2/unet/diffusion_pytorch_model.safetensors,     324, 1466500, 2928.7935395852423, 53095.568869110575",
        "tiny-sd2/vae/diffusion_pytorch_model.safetensors,      176,  367527, 1124.1971476072174, 12621.242932766998",
        "tiny-sd2/text_encoder/model.safetensors,                84, 1617529, 361.0650977753181,  27939.077968096673",
    })
    void tinyModelWeightsOpenAndEveryTensorConverts(String file, int count, long numel, double sum, double absSum) {
        Path path = Fixtures.model(file);
        long t0 = System.nanoTime();
        long elements = 0;
        double s = 0;
        double a = 0;
        try (SafetensorsFile st = SafetensorsFile.open(path)) {
            long t1 = System.nanoTime();
            assertEquals(count, st.tensors().size());
            for (SafetensorsFile.TensorInfo t : st.tensors().values()) {
                FloatTensor x = st.floatTensor(t.name());
                assertArrayEquals(t.intShape(), x.shape());
                for (float v : x.data()) {
                    assertFalse(Float.isNaN(v) || Float.isInfinite(v), file + "/" + t.name());
                    s += v;
                    a += Math.abs(v);
                }
                elements += x.size();
            }
            long t2 = System.nanoTime();
            System.out.printf("[timing] %s: open %.2f ms, read %d tensors (%.1f MB) %.2f ms%n", file, (t1 - t0) / 1e6, count,
                    elements * 4 / 1e6, (t2 - t1) / 1e6);
        }
        assertEquals(numel, elements);
        assertEquals(sum, s, Math.abs(sum) * 1e-9, "sum of all weights");
        assertEquals(absSum, a, absSum * 1e-9, "sum of |weights|");
    }
}
