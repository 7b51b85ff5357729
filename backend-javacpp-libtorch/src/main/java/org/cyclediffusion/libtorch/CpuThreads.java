package org.cyclediffusion.libtorch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalDouble;

/**
 * How many intra-op threads LibTorch gets on the CPU when the user did not say
 * ({@code OMP_NUM_THREADS} unset): the cores nobody else is using when the models are opened.
 *
 * <p>Why not simply one per core: LibTorch's OpenMP threads meet at a barrier after every
 * parallel op, and GNU OpenMP spin-waits there (300,000 spins before sleeping). When other
 * processes occupy the cores, the thread that arrived first burns the time slice its partner needs,
 * every op waits for a descheduled thread, and a run takes ten times longer. Measured on this
 * project's 2-core CI machine with other builds running (load average 12–25), the README's tiny
 * edit took 16–21 s with one thread and 167–218 s with two (473 s vs 39–51 s with two more busy
 * loops); {@code OMP_WAIT_POLICY=PASSIVE} (set by the launcher; it only acts when set before the
 * natives load) brought two threads to 27–101 s, still slower than one. So a thread is only
 * given to a core that is idle: {@code cores − round(load average)}, at least 1. An idle machine
 * gets every core, a busy one a single thread.
 */
final class CpuThreads {
    private CpuThreads() {
    }

    /** Threads for {@code cores} available processors when the 1-minute load average is {@code load} (absent: unknown, all cores). */
    static int forLoad(int cores, OptionalDouble load) {
        if (load.isEmpty()) {
            return cores;
        }
        long idle = cores - Math.round(load.getAsDouble());
        return (int) Math.max(1, Math.min(cores, idle));
    }

    /** The 1-minute load average of {@code /proc/loadavg}, when there is one (Linux). */
    static OptionalDouble loadAverage() {
        try {
            String first = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+")[0];
            return OptionalDouble.of(Double.parseDouble(first));
        } catch (IOException | RuntimeException e) {
            return OptionalDouble.empty();
        }
    }
}
