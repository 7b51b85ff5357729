package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The optimised-graph cache (issue 8): written at the first start, read at the next with the same
 * results, keyed so that any change of the model's files gives a new entry, rebuilt when an entry
 * is damaged, and never holding the in-memory clip-skip graph.
 */
class OrtModelCacheTest {
    @TempDir
    Path cacheDir;

    @TempDir
    Path modelDir;

    static OrtSessionFactory factory(OrtModelCache cache) {
        return new OrtSessionFactory(Device.CPU, OrtSessionFactory.Tuning.defaults(), cache);
    }

    private OrtModels open(Path folder, OrtModelCache cache) {
        return OrtModels.open(ModelFolder.open(folder), DType.FLOAT32, factory(cache));
    }

    @Test
    void firstStartWritesEveryNetworkAndTheSecondLoadsThemWithTheSameResults() {
        OrtModelCache first = OrtModelCache.at(cacheDir);
        FloatTensor before;
        try (Models m = open(Fixtures.model("tiny-sd-onnx"), first)) {
            before = unetCase1(m);
            m.safetyModel().orElseThrow(); // the checker's session opens on first use
        }
        // text encoder, UNet, VAE encoder and decoder, safety checker
        assertEquals(5, first.writes());
        assertEquals(0, first.hits());
        assertEquals(5, entries().size(), "one entry per network: " + entries());
        for (Path e : entries()) {
            assertTrue(Files.isRegularFile(e.resolve("model.onnx")) && Files.isRegularFile(e.resolve("key.txt")), e.toString());
        }
        assertEquals(List.of(), staging(), "no staging folder is left");

        OrtModelCache second = OrtModelCache.at(cacheDir);
        try (Models m = open(Fixtures.model("tiny-sd-onnx"), second); Golden g = Golden.open("unet_tiny_sd")) {
            m.safetyModel().orElseThrow();
            assertEquals(5, second.hits());
            assertEquals(0, second.writes());
            FloatTensor after = unetCase1(m);
            // the same optimised graph: the same numbers, bit for bit
            assertArrayEquals(before.data(), after.data());
            TensorAssert.assertAllClose(after, g.f32("case1_out"), 0, 1e-4, "UNet case1 from the cached graph");
        }
    }

    @Test
    void aChangedModelFileGetsANewEntryAndTheOldOneGoes() throws IOException {
        Path unet = copyOfFixtureUNet();
        OrtModelCache cache = OrtModelCache.at(cacheDir);
        OrtSessionFactory factory = factory(cache);
        OrtUNet.open(factory, unet, null).close();
        assertEquals(1, cache.writes());
        OrtUNet.open(factory, unet, null).close();
        assertEquals(1, cache.hits());
        List<Path> firstEntries = entries();

        Files.setLastModifiedTime(unet, FileTime.fromMillis(Files.getLastModifiedTime(unet).toMillis() + 5_000));
        OrtUNet.open(factory, unet, null).close();
        assertEquals(2, cache.writes(), "a new modification time is a new key");
        List<Path> secondEntries = entries();
        assertEquals(1, secondEntries.size(), "the entry of the old key was deleted: " + secondEntries);
        assertFalse(secondEntries.equals(firstEntries));

        // a file added beside the model (external data, say) changes the key too
        Files.writeString(unet.resolveSibling("model.onnx_data"), "x");
        OrtUNet.open(factory, unet, null).close();
        assertEquals(3, cache.writes());
    }

    @Test
    void aDamagedEntryIsRebuilt() throws IOException {
        Path unet = copyOfFixtureUNet();
        OrtModelCache cache = OrtModelCache.at(cacheDir);
        OrtSessionFactory factory = factory(cache);
        OrtUNet.open(factory, unet, null).close();
        Path cached = entries().get(0).resolve("model.onnx");
        byte[] bytes = Files.readAllBytes(cached);
        Files.write(cached, java.util.Arrays.copyOf(bytes, bytes.length / 3));

        try (OrtUNet u = OrtUNet.open(factory, unet, null); Golden g = Golden.open("unet_tiny_sd")) {
            assertEquals(0, cache.hits());
            assertEquals(2, cache.writes(), "rebuilt from the model");
            try (Conditioning c = u.condition(g.f32("case0_encoder_hidden_states"))) {
                TensorAssert.assertAllClose(u.predict(g.f32("case0_sample"), g.i64("case0_timestep")[0], c), g.f32("case0_out"), 0, 1e-4,
                        "UNet after the rebuild");
            }
        }
        assertTrue(Files.size(entries().get(0).resolve("model.onnx")) > bytes.length / 3);
    }

    @Test
    void externalDataModelsAreCachedWithTheirWeights() throws IOException {
        OrtTestExports.externalize(OrtTestExports.linkedCopy(modelDir), "unet", "weights.pb");
        OrtModelCache first = OrtModelCache.at(cacheDir);
        try (Models m = open(modelDir, first)) {
            unetCase1(m);
            m.safetyModel().orElseThrow(); // the checker's session opens on first use
        }
        OrtModelCache second = OrtModelCache.at(cacheDir);
        try (Models m = open(modelDir, second); Golden g = Golden.open("unet_tiny_sd")) {
            m.safetyModel().orElseThrow();
            assertEquals(5, second.hits());
            TensorAssert.assertAllClose(unetCase1(m), g.f32("case1_out"), 0, 1e-4, "UNet with external data, from the cache");
        }
        boolean externalData = false;
        for (Path e : entries()) {
            externalData |= Files.isRegularFile(e.resolve(OrtModelCache.EXTERNAL_DATA));
        }
        assertTrue(externalData, "large initializers are written beside the cached graph");
    }

    @Test
    void theClipSkipGraphIsNotCached() {
        OrtModelCache cache = OrtModelCache.at(cacheDir);
        try (Models m = open(Fixtures.model("tiny-sd-onnx"), cache); Golden g = Golden.open("text_encoder_tiny_sd")) {
            int entries = entries().size();
            long[] flat = g.i64("input_ids");
            m.textEncoder().encode(new long[][] {java.util.Arrays.copyOf(flat, 77)}, 1);
            assertEquals(entries, entries().size());
        }
    }

    @Test
    void disabledCacheWritesNothing() {
        OrtModelCache off = OrtModelCache.disabled();
        try (Models m = open(Fixtures.model("tiny-sd-onnx"), off)) {
            unetCase1(m);
        }
        assertEquals(0, off.writes());
        assertEquals(List.of(), entries());
    }

    @Test
    void whereTheCacheIs() {
        assertEquals(Path.of("/x/cache"), OrtModelCache.configured("/x/cache", "/y", "/xdg", "/home/u").root().orElseThrow());
        assertEquals(Path.of("/y"), OrtModelCache.configured(null, "/y", "/xdg", "/home/u").root().orElseThrow());
        assertEquals(Path.of("/xdg/cyclediffusion/ort"), OrtModelCache.configured(null, null, "/xdg", "/home/u").root().orElseThrow());
        assertEquals(Path.of("/home/u/.cache/cyclediffusion/ort"), OrtModelCache.configured("", " ", null, "/home/u").root().orElseThrow());
        assertFalse(OrtModelCache.configured("off", "/y", "/xdg", "/home/u").enabled());
        assertFalse(OrtModelCache.configured(null, "OFF", "/xdg", "/home/u").enabled());
    }

    private Path copyOfFixtureUNet() throws IOException {
        Path unet = Files.createDirectories(modelDir.resolve("unet")).resolve("model.onnx");
        Files.copy(Fixtures.model("tiny-sd-onnx").resolve("unet/model.onnx"), unet, StandardCopyOption.COPY_ATTRIBUTES);
        return unet;
    }

    /** The tiny UNet on the golden's case 1 (also used by {@code OrtMappedWeightsTest}). */
    static FloatTensor unetCase1(Models m) {
        try (Golden g = Golden.open("unet_tiny_sd"); Conditioning c = m.unet().condition(g.f32("case1_encoder_hidden_states"))) {
            return m.unet().predict(g.f32("case1_sample"), g.i64("case1_timestep")[0], c);
        }
    }

    /** Complete entries: {@code cache/<model>/<key>/}. */
    private List<Path> entries() {
        return cacheFolders().filter(p -> !p.getFileName().toString().startsWith(".staging-")).toList();
    }

    private List<Path> staging() {
        return cacheFolders().filter(p -> p.getFileName().toString().startsWith(".staging-")).toList();
    }

    private Stream<Path> cacheFolders() {
        try (Stream<Path> models = Files.list(cacheDir)) {
            return models.flatMap(m -> {
                try (Stream<Path> keys = Files.list(m)) {
                    return keys.toList().stream();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).toList().stream().sorted();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
