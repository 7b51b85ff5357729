package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link TorchWeights#of}: in-memory weights are checked like a file's and outlive the caller's handles until closed. */
class TorchWeightsInMemoryTest {
    private static final Path SOURCE = Path.of("in-memory", "test");

    @BeforeAll
    static void loadNatives() {
        TorchContext.open(Device.CPU, DType.FLOAT32);
    }

    private static Map<String, long[]> shapes() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("proj.weight", new long[] {3, 2});
        s.put("proj.bias", new long[] {3});
        return s;
    }

    @Test
    void keepsItsOwnHandlesUntilClosed() {
        long before = NativeObjects.settledCount();
        Map<String, Tensor> tensors = RandomWeights.of(shapes(), 0);
        float first;
        try (TorchWeights weights = TorchWeights.of(SOURCE, shapes(), tensors)) {
            first = tensors.get("proj.weight").data_ptr_float().get(0);
            RandomWeights.closeAll(tensors); // the caller lets go of its handles; the weights still hold the storage
            Tensor w = weights.get("proj.weight");
            assertArrayEquals(new long[] {3, 2}, w.shape());
            assertEquals(first, w.data_ptr_float().get(0));
        }
        assertEquals(before, Pointer.totalCount(), "native objects left after close");
    }

    @Test
    void namesWhatIsMissingUnexpectedOrMisshapen() {
        Map<String, long[]> wrong = new LinkedHashMap<>();
        wrong.put("proj.weight", new long[] {3, 2});
        wrong.put("proj.extra", new long[] {3});
        Map<String, Tensor> tensors = RandomWeights.of(wrong, 0);
        try {
            ConfigException e = assertThrows(ConfigException.class, () -> TorchWeights.of(SOURCE, shapes(), tensors));
            assertTrue(e.getMessage().startsWith(SOURCE.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("missing tensor(s) [proj.bias]"), e.getMessage());
            assertTrue(e.getMessage().contains("unexpected tensor(s) [proj.extra]"), e.getMessage());
        } finally {
            RandomWeights.closeAll(tensors);
        }
        Map<String, long[]> misshapen = shapes();
        misshapen.put("proj.bias", new long[] {4});
        Map<String, Tensor> more = RandomWeights.of(misshapen, 0);
        try {
            ConfigException e = assertThrows(ConfigException.class, () -> TorchWeights.of(SOURCE, shapes(), more));
            assertTrue(e.getMessage().contains("'proj.bias' has shape [4], the config implies [3]"), e.getMessage());
        } finally {
            RandomWeights.closeAll(more);
        }
    }
}
