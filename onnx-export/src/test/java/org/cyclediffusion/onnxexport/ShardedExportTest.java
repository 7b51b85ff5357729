package org.cyclediffusion.onnxexport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.ModelCopies;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A folder whose UNet, text encoder and safety checker are saved in shards exports to the same
 * bytes as the folder they were cut from: the exporter reads tensors by name, wherever they are.
 */
class ShardedExportTest {
    @Test
    void aShardedFolderExportsToTheSameFiles(@TempDir Path dir) throws IOException {
        Path root = ModelCopies.shardedCopy(Fixtures.model("tiny-sd"), dir.resolve("tiny-sd"), 3, "unet", "text_encoder", "safety_checker");
        Path out = dir.resolve("tiny-sd-onnx");
        OnnxExporter.export(root, out, line -> System.out.println("export sharded: " + line), true);
        Path reference = TinyExports.of("tiny-sd");
        List<String> files = relativeFiles(reference);
        assertEquals(files, relativeFiles(out));
        for (String f : files) {
            assertArrayEquals(Files.readAllBytes(reference.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
        }
    }

    private static List<String> relativeFiles(Path root) throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            return all.filter(Files::isRegularFile).map(p -> root.relativize(p).toString()).sorted().toList();
        }
    }
}
