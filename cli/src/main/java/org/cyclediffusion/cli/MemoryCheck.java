package org.cyclediffusion.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.cyclediffusion.core.memory.MemoryEstimate;
import org.cyclediffusion.core.memory.MemoryEstimate.ModelShape;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.core.spi.DType;

/**
 * The CLI's policy on {@link MemoryEstimate}: refuse, before any network runs, an edit whose
 * estimated peak exceeds the memory available (or {@code --max-memory}), with the numbers and the
 * way out: the largest input size of the same shape that fits ({@code --max-pixels}), or fewer
 * images at once.
 */
final class MemoryCheck {
    private MemoryCheck() {
    }

    /** One edit's shape: what the estimate depends on besides the model. */
    record Request(int width, int height, int images, int outputs, boolean guided, DType dtype, boolean naiveAttention,
            AttentionSlicing unetSlicing) {
        Request(int width, int height, int images, int outputs, boolean guided, DType dtype, boolean naiveAttention) {
            this(width, height, images, outputs, guided, dtype, naiveAttention, AttentionSlicing.OFF);
        }

        MemoryEstimate estimate(ModelShape model) {
            return MemoryEstimate.of(model, width, height, images, outputs, guided, dtype, naiveAttention, unetSlicing);
        }

        Request resized(int w, int h) {
            return new Request(w, h, images, outputs, guided, dtype, naiveAttention, unetSlicing);
        }

        Request withSlicing(AttentionSlicing slicing) {
            return new Request(width, height, images, outputs, guided, dtype, naiveAttention, slicing);
        }

        Request outputs(int n) {
            return new Request(width, height, Math.min(images, n), n, guided, dtype, naiveAttention, unetSlicing);
        }
    }

    /**
     * @param budget bytes the edit may use
     * @throws Errors.UsageException with the estimate, the budget and what to do
     */
    static void check(ModelShape model, Request r, long budget, String budgetSource) {
        MemoryEstimate e = r.estimate(model);
        if (e.peak() <= budget) {
            return;
        }
        StringBuilder m = new StringBuilder();
        m.append("--image ").append(r.width()).append('x').append(r.height());
        m.append(r.outputs() > 1 ? " with " + r.outputs() + " output images" : "");
        m.append(": this edit needs about ").append(MemoryEstimate.format(e.peak())).append(" of memory (mostly ").append(e.largestPart())
                .append("), ").append(MemoryEstimate.format(budget)).append(' ').append(budgetSource).append("; ");
        int[] fit = largestFitting(model, r, budget);
        if (fit != null) {
            long pixels = (long) fit[0] * fit[1];
            m.append("resize the input to at most ").append(fit[0]).append('x').append(fit[1]).append(" (--max-pixels ").append(pixels).append(')');
        }
        if (r.outputs() > 1 && r.outputs(1).estimate(model).peak() <= budget) {
            m.append(fit != null ? ", or " : "").append("make fewer images at once (one prompt and --num-images 1 per run)");
        }
        if (fit == null && !(r.outputs() > 1 && r.outputs(1).estimate(model).peak() <= budget)) {
            m.append("the model's weights alone need ").append(MemoryEstimate.format(e.weights())).append("; use a machine with more memory");
        }
        m.append(" (--max-memory overrides the limit)");
        throw new Errors.UsageException(m.toString());
    }

    /** The largest size with the same aspect ratio, in multiples of 64, whose estimate fits; null if none does. */
    static int[] largestFitting(ModelShape model, Request r, long budget) {
        double lo = 0;
        double hi = 1;
        int[] best = null;
        for (int i = 0; i < 40; i++) {
            double s = (lo + hi) / 2;
            int w = (int) (r.width() * s) / 64 * 64;
            int h = (int) (r.height() * s) / 64 * 64;
            if (w >= 64 && h >= 64 && r.resized(w, h).estimate(model).peak() <= budget) {
                best = new int[] {w, h};
                lo = s;
            } else {
                hi = s;
            }
        }
        return best;
    }

    /** Memory this process can still use: MemAvailable, capped by the cgroup's limit when there is one. */
    static long available() {
        long avail = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    avail = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        if (avail < 0) {
            java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
            avail = os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getFreeMemorySize() : Long.MAX_VALUE;
        }
        long cgroup = cgroupRemaining();
        return cgroup >= 0 ? Math.min(avail, cgroup) : avail;
    }

    private static long cgroupRemaining() {
        try {
            Path max = Path.of("/sys/fs/cgroup/memory.max");
            Path current = Path.of("/sys/fs/cgroup/memory.current");
            if (Files.isReadable(max) && Files.isReadable(current)) {
                String limit = Files.readString(max).trim();
                if (!limit.equals("max")) {
                    return Long.parseLong(limit) - Long.parseLong(Files.readString(current).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // no cgroup v2 limit we can read
        }
        return -1;
    }

    /** {@code 8g}, {@code 512m}, {@code 2048k} or plain bytes (powers of 1024). */
    static long parseSize(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
        long unit = 1;
        if (!s.isEmpty() && "kmgt".indexOf(s.charAt(s.length() - 1)) >= 0) {
            unit = 1L << (10 * ("kmgt".indexOf(s.charAt(s.length() - 1)) + 1));
            s = s.substring(0, s.length() - 1);
        }
        try {
            double v = Double.parseDouble(s);
            if (!(v > 0) || Double.isInfinite(v)) {
                throw new NumberFormatException();
            }
            return (long) (v * unit);
        } catch (NumberFormatException e) {
            throw new Errors.UsageException("--max-memory '" + text + "': expected a size such as 8g, 512m or a number of bytes");
        }
    }
}
