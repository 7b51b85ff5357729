package org.cyclediffusion.core.io;

import static org.cyclediffusion.core.io.SafetensorsTestWriter.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An index and its shards read as one table, and every way the two can disagree, refused with the file and the field. */
class ShardedSafetensorsTest {
    private static final String INDEX = "diffusion_pytorch_model.safetensors.index.json";
    private static final String A = "diffusion_pytorch_model-00001-of-00002.safetensors";
    private static final String B = "diffusion_pytorch_model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    @BeforeEach
    void shards() {
        new SafetensorsTestWriter().f32("conv_in.weight", shape(2, 2), 1f, 2f, 3f, 4f).f32("conv_in.bias", shape(2), 5f, 6f)
                .write(dir.resolve(A));
        new SafetensorsTestWriter().f64("conv_out.weight", shape(3), 7, 8, 9).i64("step", shape(1), 42).write(dir.resolve(B));
    }

    private Path index(String weightMap) throws IOException {
        return Files.writeString(dir.resolve(INDEX), "{\"metadata\": {\"total_size\": 56}, \"weight_map\": " + weightMap + "}");
    }

    private Path validIndex() throws IOException {
        return index("{\"conv_in.weight\": \"" + A + "\", \"conv_in.bias\": \"" + A + "\", \"conv_out.weight\": \"" + B
                + "\", \"step\": \"" + B + "\"}");
    }

    private String fails(Path index, String... expected) {
        ConfigException e = assertThrows(ConfigException.class, () -> ShardedSafetensors.open(index).close());
        for (String s : expected) {
            assertTrue(e.getMessage().contains(s), "expected '" + s + "' in: " + e.getMessage());
        }
        return e.getMessage();
    }

    @Test
    void readsTheTensorsOfEveryShardUnderTheIndex() throws IOException {
        Path index = validIndex();
        try (ShardedSafetensors s = ShardedSafetensors.open(index)) {
            assertEquals(index, s.path());
            assertTrue(s.describe().contains(index.toString()) && s.describe().contains("sharded, 2 files"), s.describe());
            assertEquals(List.of("conv_in.weight", "conv_in.bias", "conv_out.weight", "step"), List.copyOf(s.tensors().keySet()));
            assertEquals(SafetensorsDType.F64, s.info("conv_out.weight").dtype());
            assertArrayEquals(new long[] {2, 2}, s.info("conv_in.weight").shape());
            assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, s.floatTensor("conv_in.weight").data());
            assertArrayEquals(new float[] {7f, 8f, 9f}, s.floatTensor("conv_out.weight").data());
            assertEquals(dir.resolve(B), s.shardOf("step"));
            assertEquals(List.of(dir.resolve(A), dir.resolve(B)), s.shards());
            // The backend drops resident pages of weights after use: the buffer must map the shard, not copy it.
            ByteBuffer step = s.buffer("step");
            assertInstanceOf(MappedByteBuffer.class, step);
            assertEquals(42L, step.getLong(0));
            ConfigException missing = assertThrows(ConfigException.class, () -> s.info("conv_out.bias"));
            assertTrue(missing.getMessage().contains(index.toString()) && missing.getMessage().contains("'conv_out.bias'")
                    && missing.getMessage().contains("conv_in.weight"), missing.getMessage());
            assertEquals(List.of(dir.resolve(A), dir.resolve(B)), ShardedSafetensors.shardFiles(index));
        }
    }

    @Test
    void closeClosesEveryShard() throws IOException {
        ShardedSafetensors s = ShardedSafetensors.open(validIndex());
        ByteBuffer before = s.buffer("conv_in.bias");
        s.close();
        s.close(); // idempotent
        for (String t : new String[] {"conv_in.bias", "step"}) {
            CycleDiffusionException e = assertThrows(CycleDiffusionException.class, () -> s.buffer(t));
            assertTrue(e.getMessage().contains("after close()"), e.getMessage());
        }
        assertEquals(6f, before.getFloat(4), "a mapping taken before close() stays valid");
    }

    @Test
    void aMalformedIndexOrOneWithoutWeightMapNamesTheFileAndField() throws IOException {
        Path index = Files.writeString(dir.resolve(INDEX), "{\"weight_map\": {");
        fails(index, index.toString(), "not valid JSON");
        Files.writeString(index, "[1, 2]");
        fails(index, index.toString(), "JSON object");
        Files.writeString(index, "{\"metadata\": {\"total_size\": 1}}");
        fails(index, index.toString(), "no \"weight_map\"", "found none");
        Files.writeString(index, "{\"weight_map\": [\"" + A + "\"]}");
        fails(index, index.toString(), "no \"weight_map\" object", "found array");
        Files.writeString(index, "{\"weight_map\": {}}");
        fails(index, index.toString(), "\"weight_map\" is empty");
        Files.writeString(index, "{\"weight_map\": {\"step\": 2}}");
        fails(index, index.toString(), "\"weight_map\" entry 'step'", "found 2");
        Files.writeString(index, "{\"weight_map\": {\"step\": \"" + B + "\", \"step\": \"" + A + "\"}}");
        fails(index, index.toString(), "Duplicate field 'step'");
        fails(dir.resolve("absent.safetensors.index.json"), "absent.safetensors.index.json", "not found");
    }

    @Test
    void aMissingShardIsNamed() throws IOException {
        Path index = index("{\"conv_in.weight\": \"" + A + "\", \"x\": \"diffusion_pytorch_model-00003-of-00003.safetensors\"}");
        String m = fails(index, dir.resolve("diffusion_pytorch_model-00003-of-00003.safetensors").toString(), "shard file not found",
                INDEX);
        assertTrue(m.startsWith(dir.toString()), m);
    }

    @Test
    void aShardPathThatLeavesTheFolderIsRefused() throws IOException {
        Files.createDirectories(dir.resolve("sub"));
        Files.copy(dir.resolve(A), dir.resolve("sub").resolve(A));
        Path outside = dir.resolveSibling(dir.getFileName() + "-outside.safetensors");
        Files.copy(dir.resolve(A), outside);
        try {
            for (String shard : new String[] {"../" + dir.getFileName() + "-outside.safetensors", outside.toString(), "sub/" + A,
                "sub\\\\" + A, "..", ""}) {
                Path index = index("{\"conv_in.weight\": \"" + shard + "\"}");
                fails(index, index.toString(), "'conv_in.weight'", "not a plain file name");
            }
        } finally {
            Files.delete(outside);
        }
    }

    @Test
    void aTensorTheIndexPlacesInAShardThatLacksItIsNamed() throws IOException {
        Path index = index("{\"conv_in.weight\": \"" + A + "\", \"conv_in.bias\": \"" + B + "\", \"conv_out.weight\": \"" + B
                + "\", \"step\": \"" + B + "\"}");
        fails(index, index.toString(), "'conv_in.bias'", B, "does not hold it");
    }

    @Test
    void aTensorInTwoShardsOrNotInTheIndexIsRefused() throws IOException {
        new SafetensorsTestWriter().f64("conv_out.weight", shape(3), 7, 8, 9).f32("conv_in.bias", shape(2), 5f, 6f)
                .i64("step", shape(1), 42).write(dir.resolve(B));
        fails(validIndex(), INDEX, "'conv_in.bias' is in two shards", A, B);
        new SafetensorsTestWriter().f64("conv_out.weight", shape(3), 7, 8, 9).i64("step", shape(1), 42).f32("extra", shape(1), 0f)
                .write(dir.resolve(B));
        fails(validIndex(), INDEX, "holds tensor 'extra'", "does not list");
    }

    @Test
    void aFailureWhileOpeningClosesTheShardsOpenedBefore() throws IOException {
        Path fds = Path.of("/proc/self/fd");
        assumeTrue(Files.isDirectory(fds), "needs /proc/self/fd");
        Path index = validIndex();
        Files.write(dir.resolve(B), new byte[] {1, 2, 3}); // the second shard is not safetensors
        for (int i = 0; i < 20; i++) {
            fails(index, B, "too short");
        }
        assertEquals(0, openDescriptors(fds, dir.resolve(A)), A + " left open after failed opens");
        // and a successful open does hold it, so the count above can be nonzero
        new SafetensorsTestWriter().f64("conv_out.weight", shape(3), 7, 8, 9).i64("step", shape(1), 42).write(dir.resolve(B));
        try (ShardedSafetensors s = ShardedSafetensors.open(index)) {
            assertEquals(1, openDescriptors(fds, dir.resolve(A)));
        }
        assertEquals(0, openDescriptors(fds, dir.resolve(A)));
    }

    private static long openDescriptors(Path fds, Path file) throws IOException {
        Path real = file.toRealPath();
        try (Stream<Path> all = Files.list(fds)) {
            return all.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(real);
                } catch (IOException | UnsupportedOperationException e) {
                    return false; // closed meanwhile (the listing's own descriptor)
                }
            }).count();
        }
    }

    @Test
    void onlyIndexNamesAreIndexes() {
        for (String n : new String[] {INDEX, "model.safetensors.index.json", "diffusion_pytorch_model.safetensors.index.fp16.json"}) {
            assertTrue(ShardedSafetensors.isIndex(n), n);
        }
        for (String n : new String[] {A, "model.safetensors", "pytorch_model.bin.index.json", "config.json"}) {
            assertTrue(!ShardedSafetensors.isIndex(n), n);
        }
    }
}
