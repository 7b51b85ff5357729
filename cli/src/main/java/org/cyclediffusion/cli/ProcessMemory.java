package org.cyclediffusion.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's resident memory from {@code /proc/self/status} (Linux; 0 elsewhere). */
final class ProcessMemory {
    private ProcessMemory() {
    }

    /** VmRSS: resident now, in KiB. */
    static long rssKb() {
        return status("VmRSS:");
    }

    /** VmHWM: the resident high-water mark, in KiB. */
    static long peakRssKb() {
        return status("VmHWM:");
    }

    /**
     * Resets the high-water mark to the current RSS ({@code echo 5 > /proc/self/clear_refs}, Linux
     * 4.0+), so a later {@link #peakRssKb()} is the peak of what ran since. False if not possible.
     */
    static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    private static long status(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }
}
