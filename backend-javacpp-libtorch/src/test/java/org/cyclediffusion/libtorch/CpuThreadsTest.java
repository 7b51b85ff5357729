package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

class CpuThreadsTest {
    @Test
    void anIdleMachineGetsEveryCore() {
        assertEquals(2, CpuThreads.forLoad(2, OptionalDouble.of(0.1)));
        assertEquals(16, CpuThreads.forLoad(16, OptionalDouble.of(0.4)));
    }

    @Test
    void busyCoresGetNoThread() {
        assertEquals(1, CpuThreads.forLoad(2, OptionalDouble.of(1.2)), "one core left");
        assertEquals(12, CpuThreads.forLoad(16, OptionalDouble.of(4)));
    }

    @Test
    void anOverloadedMachineStillGetsOneThread() {
        assertEquals(1, CpuThreads.forLoad(2, OptionalDouble.of(24.0)));
    }

    @Test
    void anUnknownLoadMeansEveryCore() {
        assertEquals(8, CpuThreads.forLoad(8, OptionalDouble.empty()));
    }

    @Test
    void theLoadAverageIsReadOnLinux() {
        OptionalDouble load = CpuThreads.loadAverage();
        if (java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/loadavg"))) {
            assertTrue(load.isPresent() && load.getAsDouble() >= 0, "load " + load);
        } else {
            assertTrue(load.isEmpty());
        }
    }
}
