package org.cyclediffusion.libtorch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.libtorch.layers.Attention;
import org.cyclediffusion.libtorch.layers.ParameterSource;

/**
 * Peak RSS of one full-size-shaped self-attention call (random weights) with a given slicing; one
 * setting per JVM, figures printed, nothing asserted (a benchmark).
 * {@code java -cp ... org.cyclediffusion.libtorch.AttentionCallMemoryBench off|auto|max|N heads dimHead tokens}:
 * SD's first UNet level is 8 heads × 40 at (H/8·W/8) tokens; the VAE's mid block 1 head × 512.
 */
public final class AttentionCallMemoryBench {
    private AttentionCallMemoryBench() {
    }

    public static void main(String[] args) throws IOException {
        AttentionSlicing slicing = AttentionSlicing.parse(args[0], "slicing");
        int heads = Integer.parseInt(args[1]);
        int dimHead = Integer.parseInt(args[2]);
        int tokens = Integer.parseInt(args[3]);
        int dim = heads * dimHead;
        torch.manual_seed(0); // the same weights and input for every setting: the printed sums agree
        try (PointerScope scope = new PointerScope()) {
            ParameterSource random = new ParameterSource("random") {
                @Override
                public Tensor take(String name, long... shape) {
                    return torch.randn(shape).mul_(new org.bytedeco.pytorch.Scalar(0.02));
                }
            };
            Attention attention = Attention.diffusers(random, "attn", dim, dim, heads, dimHead, true);
            attention.setSlicing(slicing);
            Tensor x = torch.randn(1, tokens, dim);
            long before = kb();
            long t0 = System.nanoTime();
            Tensor y = attention.forward(x);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("slicing %s, %d heads x %d, %d tokens: peak RSS before the call %d MB, after %d MB (+%d MB), %d ms, sum %.4g%n",
                    slicing, heads, dimHead, tokens, before / 1024, kb() / 1024, (kb() - before) / 1024, ms, y.sum().item_double());
        }
    }

    private static long kb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
