package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.memory.MemoryEstimate;
import org.cyclediffusion.core.spi.AttentionSlicing;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code edit --attention-slicing}: a bad value is a usage error naming the flag; on LibTorch the
 * sliced edit writes the unsliced edit's image; and the memory check counts one slice of scores, so
 * a size refused without slicing is accepted with it.
 */
class AttentionSlicingCliTest {
    @TempDir
    Path tmp;

    /** SD 1.5's UNet and VAE as their configs say (as MemoryEstimateTest). */
    private static final MemoryEstimate.ModelShape SD15 = new MemoryEstimate.ModelShape(5_200_000_000L, 8, 320, 8, true, 128, 256);

    @Test
    void aLargeImageRefusedUnslicedFitsWithSlicing() {
        long budget = 16L << 30;
        MemoryCheck.Request unsliced = new MemoryCheck.Request(1024, 1024, 1, 1, true, DType.FLOAT32, true);
        Errors.UsageException e = assertThrows(Errors.UsageException.class, () -> MemoryCheck.check(SD15, unsliced, budget, "is available"));
        assertTrue(e.getMessage().contains("--image 1024x1024"), e.getMessage());
        MemoryCheck.check(SD15, new MemoryCheck.Request(1024, 1024, 1, 1, true, DType.FLOAT32, true, AttentionSlicing.AUTO), budget,
                "is available");
        // and what the refusal suggests grows with slicing: the largest fitting size is larger
        int[] plain = MemoryCheck.largestFitting(SD15, unsliced, 8L << 30);
        int[] sliced = MemoryCheck.largestFitting(SD15, unsliced.withSlicing(AttentionSlicing.MAX), 8L << 30);
        assertTrue(sliced[0] > plain[0], plain[0] + " vs " + sliced[0]);
    }

    @Test
    void aBadValueIsAUsageErrorNamingTheFlag() {
        CliProcess.Result r = CliProcess.run(tmp, edit("sideways", "o.png"));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--attention-slicing 'sideways': expected auto, max, off or a positive number"), r.err());
        assertFalse(r.err().contains("loading model"), r.err());
    }

    @Test
    void theSlicedEditWritesTheUnslicedImage() {
        CliProcess.Result off = CliProcess.run(tmp, edit("off", "off.png"));
        assertEquals(0, off.code(), off.err());
        CliProcess.Result max = CliProcess.run(tmp, edit("max", "max.png"));
        assertEquals(0, max.code(), max.err());
        assertFalse(max.err().contains("cannot slice"), max.err());
        assertArrayEquals(ImageFiles.read(tmp.resolve("off.png")).rgb(), ImageFiles.read(tmp.resolve("max.png")).rgb());
    }

    private String[] edit(String slicing, String output) {
        return new String[] {"edit", "--model", Fixtures.model("tiny-sd").toString(), "--backend", "libtorch", "--image",
                Fixtures.image("img_a_64x64.png").toString(), "--source-prompt", "a horse", "--prompt", "a zebra", "--steps", "2", "--strength",
                "1", "--guidance-scale", "2", "--seed", "0", "--attention-slicing", slicing, "--output", tmp.resolve(output).toString()};
    }
}
