package org.cyclediffusion.libtorch.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.cyclediffusion.libtorch.TorchNatives;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Parity with diffusers v0.23.0 ({@code golden/unet_tiny_sd*}): the tiny SD 1.x UNet (1×1 conv
 * projections, 8 heads everywhere, two layers per block) and the tiny SD 2.x UNet (linear
 * projections, per-block head counts [2,4,4], upcast attention, one layer per block), five cases
 * each: batches 1, 4, 1, 4, 2 at latent sizes 8×8, 8×8, 8×12, 8×12 and 7×10 (7×10 needs the
 * forwarded upsample sizes), timesteps 981, 1, 500, 250, 777.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UNet2DConditionModelGoldenTest {
    /** Measured ≤ 2.5e-6 on every case (AVX-512/AMX and AVX2 oneDNN); 4× that, so a 10× regression fails. */
    private static final double ATOL = 1e-5;
    private Map<String, Tensor> sd1Weights;
    private Map<String, Tensor> sd2Weights;
    private UNet2DConditionModel sd1;
    private UNet2DConditionModel sd2;

    @BeforeAll
    void load() {
        TorchNatives.load(); // the bundled LibTorch only, never a system one, before any LibTorch class initialises
        sd1Weights = UNetTestTensors.load(Fixtures.model("tiny-sd").resolve("unet/diffusion_pytorch_model.safetensors"));
        sd2Weights = UNetTestTensors.load(Fixtures.model("tiny-sd2").resolve("unet/diffusion_pytorch_model.safetensors"));
        sd1 = UNet2DConditionModel.build(JsonConfig.read(Fixtures.model("tiny-sd").resolve("unet/config.json")), sd1Weights);
        sd2 = UNet2DConditionModel.build(JsonConfig.read(Fixtures.model("tiny-sd2").resolve("unet/config.json")), sd2Weights);
    }

    @AfterAll
    void release() {
        sd1.close();
        sd2.close();
        UNetTestTensors.closeAll(sd1Weights);
        UNetTestTensors.closeAll(sd2Weights);
    }

    static Stream<Arguments> cases() {
        return Stream.of("unet_tiny_sd", "unet_tiny_sd2")
                .flatMap(golden -> Stream.of(0, 1, 2, 3, 4).map(i -> Arguments.of(golden, i)));
    }

    @ParameterizedTest(name = "{0} case{1}")
    @MethodSource("cases")
    void matchesDiffusers(String golden, int index) {
        UNet2DConditionModel model = golden.equals("unet_tiny_sd") ? sd1 : sd2;
        try (Golden g = Golden.open(golden)) {
            String c = "case" + index + "_";
            long[] timestep = g.i64(c + "timestep");
            assertEquals(1, timestep.length, "timestep is an int64 scalar");
            FloatTensor expected = g.f32(c + "out");
            FloatTensor actual;
            try (Tensor sample = UNetTestTensors.toTorch(g.f32(c + "sample"));
                    Tensor text = UNetTestTensors.toTorch(g.f32(c + "encoder_hidden_states"));
                    Tensor out = model.forward(sample, timestep[0], text)) {
                actual = UNetTestTensors.toHost(out);
            }
            double[] stats = TensorAssert.diffStats(actual.data(), expected.data());
            System.out.printf("%s %s t=%d shape %s: max |Δ| %.3g, mean |Δ| %.3g%n", golden, c.substring(0, c.length() - 1), timestep[0],
                    java.util.Arrays.toString(expected.shape()), stats[0], stats[1]);
            TensorAssert.assertAllClose(actual, expected, 0, ATOL, golden + " " + c + "out");
        }
    }
}
