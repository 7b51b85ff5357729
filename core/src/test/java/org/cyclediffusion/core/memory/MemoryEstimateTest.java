package org.cyclediffusion.core.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The estimate's shape: what grows with what, read from real configs. */
class MemoryEstimateTest {
    /** SD 1.5's UNet and VAE as their configs say; 3.4 GB of fp32 weights (UNet, VAE, text encoder, checker). */
    static final MemoryEstimate.ModelShape SD15 = new MemoryEstimate.ModelShape(5_200_000_000L, 8, 320, 8, true, 128, 256);

    @Test
    void shapeIsReadFromTheConfigs() {
        MemoryEstimate.ModelShape tiny = MemoryEstimate.ModelShape.of(ModelFolder.open(Fixtures.model("tiny-sd")));
        assertEquals(8, tiny.vaeScaleFactor());
        assertEquals(32, tiny.unetChannels());
        assertEquals(8, tiny.unetHeads());
        assertTrue(tiny.unetAttentionAtFullRes());
        assertEquals(32, tiny.vaeChannels());
        assertTrue(tiny.weightBytes() > 0);
        MemoryEstimate.ModelShape onnx = MemoryEstimate.ModelShape.of(ModelFolder.open(Fixtures.model("tiny-sd-onnx")));
        assertEquals(tiny.unetChannels(), onnx.unetChannels());
    }

    private static long size(Path... files) throws IOException {
        long total = 0;
        for (Path f : files) {
            total += Files.size(f);
        }
        return total;
    }

    /** The component's files but configs (what the estimate counted before it knew about shards and variants). */
    private static long sizeOfAll(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return size(files.filter(f -> !f.getFileName().toString().endsWith(".json")).toArray(Path[]::new));
        }
    }

    @Test
    void weightsAreWhatALoadReadsNotEveryFileOfTheFolder(@TempDir Path tmp) throws IOException {
        Path root = tmp.resolve("tiny-sd");
        ModelCopies.copyTree(Fixtures.model("tiny-sd"), root);
        Path unet = root.resolve("unet");
        Path text = root.resolve("text_encoder");
        Path vae = root.resolve("vae");
        long plain = MemoryEstimate.ModelShape.of(ModelFolder.open(root)).weightBytes();
        assertEquals(size(unet.resolve("diffusion_pytorch_model.safetensors"), vae.resolve("diffusion_pytorch_model.safetensors"),
                text.resolve("model.safetensors"), root.resolve("safety_checker/model.safetensors")), plain);
        long unetSingle = size(unet.resolve("diffusion_pytorch_model.safetensors"));
        // UNet and text encoder each saved sharded over an unsharded save: single file and shards side by side
        for (String[] c : new String[][] {{"unet", "diffusion_pytorch_model"}, {"text_encoder", "model"}}) {
            Path single = root.resolve(c[0]).resolve(c[1] + ".safetensors");
            Path kept = Files.copy(single, root.resolve(c[0]).resolve("kept"));
            ModelCopies.shard(root.resolve(c[0]), c[1], null, 2);
            Files.move(kept, single);
        }
        long unetShards = size(unet.resolve("diffusion_pytorch_model.safetensors.index.json"),
                unet.resolve("diffusion_pytorch_model-00001-of-00002.safetensors"), unet.resolve("diffusion_pytorch_model-00002-of-00002.safetensors"));
        long both = MemoryEstimate.ModelShape.of(ModelFolder.open(root)).weightBytes();
        // diffusers reads the UNet's index and shards, transformers the text encoder's single file
        assertEquals(plain - unetSingle + unetShards, both);
        // a count of every file but configs (as before) adds the copies no load reads and leaves out the UNet's index
        long textShards = size(text.resolve("model-00001-of-00002.safetensors"), text.resolve("model-00002-of-00002.safetensors"));
        long everyFile = sizeOfAll(unet) + sizeOfAll(vae) + sizeOfAll(text) + sizeOfAll(root.resolve("safety_checker"));
        assertEquals(unetSingle + textShards - size(unet.resolve("diffusion_pytorch_model.safetensors.index.json")), everyFile - both);
        // a variant beside the plain file: the folder's variant only
        Path fp16 = vae.resolve("diffusion_pytorch_model.fp16.safetensors");
        ModelCopies.writeFp16(vae.resolve("diffusion_pytorch_model.safetensors"), fp16);
        assertEquals(both, MemoryEstimate.ModelShape.of(ModelFolder.open(root)).weightBytes());
        // the ONNX layout: every graph and its external data
        Path onnx = Fixtures.model("tiny-sd-onnx");
        long graphs = 0;
        for (String c : new String[] {"unet", "vae_encoder", "vae_decoder", "text_encoder", "safety_checker"}) {
            graphs += sizeOfAll(onnx.resolve(c));
        }
        assertEquals(graphs, MemoryEstimate.ModelShape.of(ModelFolder.open(onnx)).weightBytes());
    }

    @Test
    void naiveAttentionGrowsWithTheSquareOfTheLatentPixels() {
        MemoryEstimate small = MemoryEstimate.of(SD15, 512, 512, 1, 1, true, DType.FLOAT32, true);
        MemoryEstimate twice = MemoryEstimate.of(SD15, 1024, 1024, 1, 1, true, DType.FLOAT32, true);
        // 4x the latent pixels: the attention term 16x, the rest 4x, so the UNet part between 4x and 16x, close to 16x
        double ratio = (double) twice.unet() / small.unet();
        assertTrue(ratio > 14 && ratio <= 16, "ratio " + ratio);
        // 2 · 4 rows · 8 heads · 4096² · 4 bytes = 4 GiB of scores at 512² under guidance
        assertTrue(small.unet() > 4L << 30 && small.unet() < 5L << 30, MemoryEstimate.format(small.unet()));
        MemoryEstimate huge = MemoryEstimate.of(SD15, 4000, 4000, 1, 1, true, DType.FLOAT32, true);
        assertTrue(huge.peak() > 10L << 40, "a 4000x4000 edit on a naive backend needs terabytes: " + MemoryEstimate.format(huge.peak()));
    }

    @Test
    void fusedAttentionIsLinearAndTheVaeDominatesLargeImages() {
        MemoryEstimate a = MemoryEstimate.of(SD15, 512, 512, 1, 1, true, DType.FLOAT32, false);
        MemoryEstimate b = MemoryEstimate.of(SD15, 1024, 1024, 1, 1, true, DType.FLOAT32, false);
        assertEquals(4.0, (double) b.unet() / a.unet(), 1e-9);
        assertEquals("the VAE decoder", MemoryEstimate.of(SD15, 4000, 4000, 1, 1, true, DType.FLOAT32, false).largestPart());
    }

    @Test
    void slicedAttentionHoldsOneSliceOfScores() {
        MemoryEstimate naive = MemoryEstimate.of(SD15, 1024, 1024, 1, 1, true, DType.FLOAT32, true);
        MemoryEstimate sliced = MemoryEstimate.of(SD15, 1024, 1024, 1, 1, true, DType.FLOAT32, true, AttentionSlicing.AUTO);
        MemoryEstimate fused = MemoryEstimate.of(SD15, 1024, 1024, 1, 1, true, DType.FLOAT32, false);
        // 128² latent pixels: all scores 2 · 4 rows · 8 heads · 16384² · 4 B = 64 GiB; one slice (4 heads,
        // 256 queries of 16384 keys: 2^24 elements) 2 · 2^24 · 4 B = 128 MiB on top of the activations
        assertEquals(2L * AttentionSlicing.SCORE_ELEMENTS * 4, sliced.unet() - fused.unet());
        assertTrue(naive.unet() > 64L << 30, MemoryEstimate.format(naive.unet()));
        assertTrue(sliced.peak() < 16L << 30, "1024x1024 with slicing fits in 16 GB: " + MemoryEstimate.format(sliced.peak()));
        assertEquals(naive.unet(), MemoryEstimate.of(SD15, 1024, 1024, 1, 1, true, DType.FLOAT32, true, AttentionSlicing.OFF).unet());
        // max: one head per slice, the chunk grows to keep the same bound
        assertEquals(sliced.unet(), MemoryEstimate.of(SD15, 1024, 1024, 1, 1, true, DType.FLOAT32, true, AttentionSlicing.MAX).unet());
    }

    @Test
    void batchAndPrecisionScaleActivations() {
        MemoryEstimate one = MemoryEstimate.of(SD15, 512, 512, 1, 1, true, DType.FLOAT32, true);
        MemoryEstimate four = MemoryEstimate.of(SD15, 512, 512, 1, 4, true, DType.FLOAT32, true);
        MemoryEstimate half = MemoryEstimate.of(SD15, 512, 512, 1, 1, true, DType.FLOAT16, true);
        assertEquals(4.0, (double) four.unet() / one.unet(), 1e-9);
        assertEquals(0.5, (double) half.unet() / one.unet(), 1e-9);
        MemoryEstimate unguided = MemoryEstimate.of(SD15, 512, 512, 1, 1, false, DType.FLOAT32, true);
        assertEquals(0.5, (double) unguided.unet() / one.unet(), 1e-9);
    }

    @Test
    void bytesForPeople() {
        assertEquals("512 B", MemoryEstimate.format(512));
        assertEquals("1.5 GB", MemoryEstimate.format(3L << 29));
        assertEquals("250 GB", MemoryEstimate.format(250L << 30));
    }
}
