package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertFalse;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Process-wide LibTorch settings made once when the natives load. NNPACK's own initialisation
 * fails on some CPUs (AMD EPYC VMs: "Unsupported hardware") and LibTorch then logs a warning for
 * every convolution that asks for it; the flag must be off before any convolution runs.
 */
class TorchNativesSettingsTest {
    @Test
    void nnpackIsSwitchedOffAtLoad() {
        TorchNatives.load();
        assertFalse(torch.globalContext().userEnabledNNPACK(), "NNPACK must be disabled before any convolution consults it");
    }
}
