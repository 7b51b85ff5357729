package org.cyclediffusion.libtorch;

import java.util.Locale;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The figures behind the README's reduced-precision table: max |Δ| of every tiny-model component in
 * bf16 and fp16 against the float32 goldens (what TorchReducedPrecisionTest and UNetBFloat16Test
 * bound), printed, not asserted. Skipped unless {@code -Dcyclediffusion.bench.precision=true}; run it
 * under each {@code ONEDNN_MAX_CPU_ISA} to compare kernels.
 */
class ReducedPrecisionFigures {
    @Test
    void print() {
        Assumptions.assumeTrue(Boolean.getBoolean("cyclediffusion.bench.precision"),
                "reduced-precision figures skipped: run with -Dcyclediffusion.bench.precision=true");
        String[] args = {"bf16", "fp16"};
        for (String model : new String[] {"tiny-sd", "tiny-sd2"}) {
            String sfx = model.equals("tiny-sd") ? "tiny_sd" : "tiny_sd2";
            for (String dt : args) {
                DType dtype = DType.parse(dt);
                try (Models m = new TorchBackendProvider().open(ModelFolder.open(Fixtures.model(model)), Device.CPU, dtype);
                        Golden te = Golden.open("text_encoder_" + sfx);
                        Golden un = Golden.open("unet_" + sfx);
                        Golden va = Golden.open("vae_" + sfx)) {
                    FloatTensor text = m.textEncoder().encode(GoldenIds.of(te), 0);
                    StringBuilder sb = new StringBuilder(model + " " + dt + ":");
                    sb.append(String.format(Locale.ROOT, " text %.4f", TensorAssert.diffStats(text.data(), te.f32("last_hidden_state").data())[0]));
                    for (int k = 1; k <= 4; k++) {
                        if (!un.has("case" + k + "_out")) {
                            continue;
                        }
                        try (Conditioning c = m.unet().condition(un.f32("case" + k + "_encoder_hidden_states"))) {
                            FloatTensor out = m.unet().predict(un.f32("case" + k + "_sample"), un.i64("case" + k + "_timestep")[0], c);
                            sb.append(String.format(Locale.ROOT, " unet%d %.4f", k, TensorAssert.diffStats(out.data(), un.f32("case" + k + "_out").data())[0]));
                        }
                    }
                    FloatTensor decoded = m.vae().decode(va.f32("dec_z2_input"));
                    sb.append(String.format(Locale.ROOT, " vae-dec %.4f", TensorAssert.diffStats(decoded.data(), va.f32("dec_z2_out").data())[0]));
                    System.out.println(sb);
                }
            }
        }
    }
}
