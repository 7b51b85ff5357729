package org.cyclediffusion.libtorch;

import static org.cyclediffusion.core.testing.TensorAssert.assertAllClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * fp16 and bf16 on request (CPU here; fp16 is the CUDA default). Not a parity test: the bounds are
 * what the formats can hold on outputs of magnitude ~3 (fp16 keeps 11 significant bits, bf16 8),
 * and they catch a network that runs in the wrong precision or not at all. With
 * {@code force_upcast} (SD configs) the VAE stays float32 under fp16, so it keeps fp32 parity.
 */
class TorchReducedPrecisionTest {
    @ParameterizedTest
    @CsvSource({"fp16, 1e-2", "bf16, 1e-1"})
    void runsInReducedPrecision(String dtypeName, double bound) {
        DType dtype = DType.parse(dtypeName);
        try (Models m = new TorchBackendProvider().open(ModelFolder.open(Fixtures.model("tiny-sd")), Device.CPU, dtype);
                Golden te = Golden.open("text_encoder_tiny_sd");
                Golden un = Golden.open("unet_tiny_sd");
                Golden va = Golden.open("vae_tiny_sd")) {
            assertTrue(m.description().startsWith("libtorch cpu " + dtypeName), m.description());
            FloatTensor text = m.textEncoder().encode(GoldenIds.of(te), 0);
            assertAllClose(text, te.f32("last_hidden_state"), 0, bound, dtypeName + " text encoder");
            try (Conditioning c = m.unet().condition(un.f32("case1_encoder_hidden_states"))) {
                FloatTensor out = m.unet().predict(un.f32("case1_sample"), un.i64("case1_timestep")[0], c);
                assertAllClose(out, un.f32("case1_out"), 0, bound, dtypeName + " UNet");
            }
            FloatTensor decoded = m.vae().decode(va.f32("dec_z2_input"));
            if (dtype == DType.FLOAT16) {
                assertTrue(m.description().endsWith("(VAE fp32)"), m.description());
                assertAllClose(decoded, va.f32("dec_z2_out"), 0, 1e-4, "fp16 models keep an fp32 VAE under force_upcast");
            } else {
                assertEquals(m.description(), "libtorch cpu bf16", "bf16 is not upcast (force_upcast concerns fp16 overflow)");
                assertAllClose(decoded, va.f32("dec_z2_out"), 0, bound, dtypeName + " VAE decode");
            }
        }
    }
}
