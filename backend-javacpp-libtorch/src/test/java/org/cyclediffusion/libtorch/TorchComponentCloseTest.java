package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.junit.jupiter.api.Test;

/** A component releases its resources last-first, all of them even when some fail, once; the failure names the component. */
class TorchComponentCloseTest {
    private final List<String> closed = new ArrayList<>();

    private AutoCloseable resource(String name, RuntimeException failure) {
        return () -> {
            closed.add(name);
            if (failure != null) {
                throw failure;
            }
        };
    }

    @Test
    void closesInReverseOrderReportingTheFirstFailureWithTheRestSuppressed() {
        IllegalStateException weights = new IllegalStateException("weights");
        IllegalStateException buffers = new IllegalStateException("buffers");
        TorchComponent c = new TorchComponent("probe", TorchContext.open(Device.CPU, DType.FLOAT32), resource("weights", weights),
                resource("module", null), resource("buffers", buffers)) {
        };
        CycleDiffusionException e = assertThrows(CycleDiffusionException.class, c::close);
        assertEquals("libtorch probe: close failed", e.getMessage());
        assertSame(buffers, e.getCause(), "the last resource is closed first");
        assertArrayEquals(new Throwable[] {weights}, buffers.getSuppressed());
        assertEquals(List.of("buffers", "module", "weights"), closed);
        c.close(); // idempotent: nothing is closed twice, nothing thrown again
        assertEquals(3, closed.size());
        assertThrows(CycleDiffusionException.class, c::ensureOpen);
    }
}
