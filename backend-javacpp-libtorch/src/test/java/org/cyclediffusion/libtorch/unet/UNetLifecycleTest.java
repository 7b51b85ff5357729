package org.cyclediffusion.libtorch.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.cyclediffusion.libtorch.NativeObjects;
import org.junit.jupiter.api.Test;

/** Native ownership: what the model keeps, what a forward pass leaves behind, what the caller owns. */
class UNetLifecycleTest {

    private static JsonConfig config() {
        return JsonConfig.read(Fixtures.model("tiny-sd").resolve("unet/config.json"));
    }

    private static Map<String, Tensor> weights() {
        return UNetTestTensors.load(Fixtures.model("tiny-sd").resolve("unet/diffusion_pytorch_model.safetensors"));
    }

    /**
     * The model holds its own handles: closing the caller's tensors right after build (as a
     * loader that maps a file and lets go would) leaves a working model, still matching diffusers.
     */
    @Test
    void modelOutlivesTheCallersHandlesAndForwardLeavesNothingBehind() {
        Map<String, Tensor> weights = weights();
        UNet2DConditionModel unet;
        try {
            unet = UNet2DConditionModel.build(config(), weights);
        } finally {
            UNetTestTensors.closeAll(weights);
        }
        try (unet; Golden g = Golden.open("unet_tiny_sd");
                Tensor sample = UNetTestTensors.toTorch(g.f32("case4_sample"));
                Tensor text = UNetTestTensors.toTorch(g.f32("case4_encoder_hidden_states"))) {
            long before = NativeObjects.settledCount();
            Tensor out = unet.forward(sample, g.i64("case4_timestep")[0], text);
            assertEquals(before + 1, Pointer.totalCount(), "only the result should survive a forward pass");
            assertEquals(1, out.referenceCount(), "the result belongs to the caller alone");
            FloatTensor actual = UNetTestTensors.toHost(out);
            out.close();
            assertEquals(before, Pointer.totalCount());
            TensorAssert.assertAllClose(actual, g.f32("case4_out"), 0, 1e-5, "case4 after the caller closed its weights");
        }
    }

    /** A forward pass inside the caller's own scope: the result is still the caller's, not that scope's. */
    @Test
    void forwardInsideAnEnclosingScope() {
        Map<String, Tensor> weights = weights();
        try (UNet2DConditionModel unet = UNet2DConditionModel.build(config(), weights); Golden g = Golden.open("unet_tiny_sd")) {
            Tensor out;
            try (PointerScope outer = new PointerScope()) {
                Tensor sample = UNetTestTensors.toTorch(g.f32("case0_sample"));
                Tensor text = UNetTestTensors.toTorch(g.f32("case0_encoder_hidden_states"));
                out = unet.forward(sample, g.i64("case0_timestep")[0], text);
            }
            try (out) {
                TensorAssert.assertAllClose(UNetTestTensors.toHost(out), g.f32("case0_out"), 0, 1e-5, "case0 out of an outer scope");
            }
        } finally {
            UNetTestTensors.closeAll(weights);
        }
    }

    @Test
    void closedModelRefusesWorkAndCloseIsIdempotent() {
        Map<String, Tensor> weights = weights();
        try (Tensor sample = UNetTestTensors.toTorch(FloatTensor.zeros(1, 4, 8, 8));
                Tensor text = UNetTestTensors.toTorch(FloatTensor.zeros(1, 77, 32))) {
            UNet2DConditionModel unet = UNet2DConditionModel.build(config(), weights);
            unet.close();
            unet.close();
            assertThrows(IllegalStateException.class, () -> unet.forward(sample, 1, text));
        } finally {
            UNetTestTensors.closeAll(weights);
        }
    }

    @Test
    void badInputShapesAreRejectedBeforeAnyWork() {
        Map<String, Tensor> weights = weights();
        try (UNet2DConditionModel unet = UNet2DConditionModel.build(config(), weights);
                Tensor threeChannels = UNetTestTensors.toTorch(FloatTensor.zeros(1, 3, 8, 8));
                Tensor sample = UNetTestTensors.toTorch(FloatTensor.zeros(1, 4, 8, 8));
                Tensor text = UNetTestTensors.toTorch(FloatTensor.zeros(1, 77, 32));
                Tensor wideText = UNetTestTensors.toTorch(FloatTensor.zeros(1, 77, 768));
                Tensor twoTexts = UNetTestTensors.toTorch(FloatTensor.zeros(2, 77, 32))) {
            String m1 = assertThrows(IllegalArgumentException.class, () -> unet.forward(threeChannels, 1, text)).getMessage();
            assertTrue(m1.contains("[1, 3, 8, 8]"), m1);
            String m2 = assertThrows(IllegalArgumentException.class, () -> unet.forward(sample, 1, wideText)).getMessage();
            assertTrue(m2.contains("768") && m2.contains("cross_attention_dim 32"), m2);
            String m3 = assertThrows(IllegalArgumentException.class, () -> unet.forward(sample, 1, twoTexts)).getMessage();
            assertTrue(m3.contains("batch 1"), m3);
        } finally {
            UNetTestTensors.closeAll(weights);
        }
    }
}
