package org.cyclediffusion.libtorch;

import static org.cyclediffusion.core.testing.TensorAssert.assertAllClose;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The CLIP text tower against transformers 4.35 goldens: quick_gelu (SD 1.x) and gelu (SD 2.x), clip skip 0, 1, 2. */
class ClipTextModelTest {
    @ParameterizedTest
    @ValueSource(strings = {"tiny-sd", "tiny-sd2"})
    void matchesTransformers(String model) {
        TorchContext ctx = TorchContext.open(Device.CPU, DType.FLOAT32);
        try (TorchTextEncoder te = TorchTextEncoder.load(ModelFolder.open(Fixtures.model(model)), ctx);
                Golden g = Golden.open("text_encoder_" + model.replace('-', '_'))) {
            long[][] ids = GoldenIds.of(g);
            for (int k = 0; k <= 2; k++) {
                FloatTensor expected = g.f32(k == 0 ? "last_hidden_state" : "clip_skip" + k);
                FloatTensor actual = te.encode(ids, k);
                System.out.printf("%s clip skip %d: max |Δ| = %.3g%n", model, k, TensorAssert.diffStats(actual.data(), expected.data())[0]);
                assertAllClose(actual, expected, 0, 1e-5, model + " clip skip " + k); // measured ≤ 1.43e-6
            }
            CycleDiffusionException e = assertThrows(CycleDiffusionException.class, () -> te.encode(ids, 6));
            assertTrue(e.getMessage().contains("clip skip 6"), e.getMessage());
        }
    }
}
