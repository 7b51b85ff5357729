package org.cyclediffusion.libtorch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Peak RSS of one tiny-UNet prediction at a large latent size, with a given attention slicing: run
 * once per setting in a fresh JVM and compare the printed figures (no assertion: a benchmark).
 * {@code java -cp ... org.cyclediffusion.libtorch.AttentionSlicingMemoryBench off|auto|max|N [latentSide]}
 */
public final class AttentionSlicingMemoryBench {
    private AttentionSlicingMemoryBench() {
    }

    public static void main(String[] args) throws IOException {
        AttentionSlicing slicing = AttentionSlicing.parse(args[0], "slicing");
        int side = args.length > 1 ? Integer.parseInt(args[1]) : 96;
        try (CycleDiffusionPipeline sd = TorchPipelineParityTest.open("tiny-sd")) {
            UNet unet = sd.models().unet();
            unet.setAttentionSlicing(slicing);
            Random random = new Random(5);
            Conditioning c = unet.condition(AttentionSlicingTest.gaussian(random, 1, 77, 32));
            long before = kb("VmHWM");
            long t0 = System.nanoTime();
            FloatTensor out = unet.predict(AttentionSlicingTest.gaussian(random, 1, 4, side, side), 500, c);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("slicing %s, latents 1x4x%dx%d: peak RSS before %d MB, after %d MB, %d ms, finite %s%n", slicing, side, side,
                    before / 1024, kb("VmHWM") / 1024, ms, out.allFinite());
        }
    }

    private static long kb(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
