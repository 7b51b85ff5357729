package org.cyclediffusion.libtorch.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The reduced-precision path the CPU backend uses (DESIGN §6: bf16 on CPU): weights in bfloat16,
 * float32 inputs converted by the model, the float32 timestep sinusoids cast to the model dtype as
 * diffusers does. bfloat16 keeps 8 significant bits (relative step 2^-8 ≈ 0.004) and the tiny UNet
 * chains ~60 normalised layers, so this is a smoke test of the dtype plumbing with a bound of 5%
 * of the output's range, not a parity test: the float32 goldens are matched to 1e-4 elsewhere.
 */
class UNetBFloat16Test {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-sd", "tiny-sd2"})
    void bfloat16WeightsStayCloseToTheFloat32Golden(String model) {
        Map<String, Tensor> f32 = UNetTestTensors.load(Fixtures.model(model).resolve("unet/diffusion_pytorch_model.safetensors"));
        Map<String, Tensor> bf16 = new LinkedHashMap<>();
        String golden = model.equals("tiny-sd") ? "unet_tiny_sd" : "unet_tiny_sd2";
        try {
            f32.forEach((name, t) -> bf16.put(name, t.to(torch.ScalarType.BFloat16)));
            try (UNet2DConditionModel unet = UNet2DConditionModel.build(JsonConfig.read(Fixtures.model(model).resolve("unet/config.json")), bf16);
                    Golden g = Golden.open(golden);
                    Tensor sample = UNetTestTensors.toTorch(g.f32("case4_sample"));
                    Tensor text = UNetTestTensors.toTorch(g.f32("case4_encoder_hidden_states"));
                    Tensor out = unet.forward(sample, g.i64("case4_timestep")[0], text)) {
                assertEquals(torch.ScalarType.BFloat16, out.scalar_type().intern());
                FloatTensor expected = g.f32("case4_out");
                FloatTensor actual = UNetTestTensors.toHost(out);
                float min = Float.MAX_VALUE;
                float max = -Float.MAX_VALUE;
                for (float v : expected.data()) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                double bound = 0.05 * (max - min);
                double[] stats = TensorAssert.diffStats(actual.data(), expected.data());
                System.out.printf("%s bf16 case4: max |Δ| %.3g, mean |Δ| %.3g (bound %.3g)%n", model, stats[0], stats[1], bound);
                assertTrue(stats[0] > 0, "bf16 should not reproduce float32 bit for bit");
                TensorAssert.assertAllClose(actual, expected, 0, bound, model + " bf16 case4");
            }
        } finally {
            UNetTestTensors.closeAll(bf16);
            UNetTestTensors.closeAll(f32);
        }
    }
}
