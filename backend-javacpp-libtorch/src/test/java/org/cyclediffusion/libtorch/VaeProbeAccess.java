package org.cyclediffusion.libtorch;

import java.nio.file.Path;
import java.util.function.LongSupplier;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;

/** The package-private VAE, opened for {@code bench.VaeDecodeProbe}. */
public final class VaeProbeAccess {
    /** Receives the RSS after load (KiB, as the reset returned it) and the decode's milliseconds. */
    public interface Report {
        void accept(long rssAfterLoadKb, double decodeMs);
    }

    private VaeProbeAccess() {
    }

    /** Loads {@code folder/vae} on the CPU in float32, calls {@code resetPeak}, decodes once, reports. */
    public static void decode(Path folder, FloatTensor latents, boolean tiling, Report report, LongSupplier resetPeak) {
        try (TorchVae vae = TorchVae.load(ModelFolder.open(folder), TorchContext.open(Device.CPU, DType.FLOAT32))) {
            vae.setTiling(tiling);
            long rss = resetPeak.getAsLong();
            long t0 = System.nanoTime();
            FloatTensor pixels = vae.decode(latents);
            double ms = (System.nanoTime() - t0) / 1e6;
            for (float v : pixels.data()) {
                if (!Float.isFinite(v)) {
                    throw new IllegalStateException("non-finite decoded pixel");
                }
            }
            report.accept(rss, ms);
        }
    }
}
