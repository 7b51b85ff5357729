package org.cyclediffusion.libtorch.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.libtorch.VaeProbeAccess;

/**
 * One full-size VAE decode in this JVM, for the memory test (run as a child JVM so the figures are
 * the decode's alone) and by hand: {@code VaeDecodeProbe FOLDER SIZE [tiling]} loads {@code vae/},
 * resets the resident high-water mark, decodes one SIZE×SIZE image's latents and prints
 * {@code rss_after_load_kb peak_kb decode_ms} on one line.
 */
public final class VaeDecodeProbe {
    private VaeDecodeProbe() {
    }

    public static void main(String[] args) throws IOException {
        Path folder = Path.of(args[0]);
        int size = Integer.parseInt(args[1]);
        boolean tiling = args.length > 2 && args[2].equals("tiling");
        Random r = new Random(0);
        float[] z = new float[4 * (size / 8) * (size / 8)];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) r.nextGaussian() / 0.18215f; // unscaled latents, as the pipeline hands them over
        }
        FloatTensor latents = new FloatTensor(z, 1, 4, size / 8, size / 8);
        VaeProbeAccess.decode(folder, latents, tiling, (rssAfterLoad, decodeMs) -> {
            long peak = status("VmHWM:");
            System.out.printf(Locale.ROOT, "probe %d %d %.1f%n", rssAfterLoad, peak, decodeMs);
        }, () -> {
            try {
                Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            } catch (IOException e) {
                throw new IllegalStateException("cannot reset the peak RSS (/proc/self/clear_refs): " + e, e);
            }
            return status("VmRSS:");
        });
    }

    static long status(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalStateException(key + " not in /proc/self/status");
    }
}
