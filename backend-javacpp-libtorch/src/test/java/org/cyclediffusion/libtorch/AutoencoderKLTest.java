package org.cyclediffusion.libtorch;

import static org.cyclediffusion.core.testing.TensorAssert.assertAllClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.LatentDistribution;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** AutoencoderKL against diffusers v0.23.0 goldens: moments, clamped posterior, decoder, both tiny VAEs. */
class AutoencoderKLTest {
    @ParameterizedTest
    @ValueSource(strings = {"tiny-sd", "tiny-sd2"})
    void matchesDiffusers(String model) {
        TorchContext ctx = TorchContext.open(Device.CPU, DType.FLOAT32);
        try (TorchVae vae = TorchVae.load(ModelFolder.open(Fixtures.model(model)), ctx);
                Golden g = Golden.open("vae_" + model.replace('-', '_'))) {
            assertEquals(8, vae.scaleFactor());
            assertEquals(0.18215f, vae.scalingFactor());
            for (String img : new String[] {"img_a", "img_b", "rand2"}) {
                LatentDistribution d = vae.encode(g.f32("enc_" + img + "_input"));
                report(model + " encode " + img + " mean", d.mean(), g.f32("enc_" + img + "_mean"));
                report(model + " encode " + img + " logvar", d.logvar(), g.f32("enc_" + img + "_logvar"));
            }
            for (String z : new String[] {"z1", "z2"}) {
                report(model + " decode " + z, vae.decode(g.f32("dec_" + z + "_input")), g.f32("dec_" + z + "_out"));
            }
        }
    }

    private static void report(String what, FloatTensor actual, FloatTensor expected) {
        System.out.printf("%s: max |Δ| = %.3g%n", what, TensorAssert.diffStats(actual.data(), expected.data())[0]);
        assertAllClose(actual, expected, 0, 1e-4, what); // measured ≤ 2.9e-5 (encode), 1.1e-5 (decode)
    }
}
