package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.onnxexport.OnnxExporter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ONNX export {@code bench --random-model --config onnx} runs is named by the exporter's graph revision, written once. */
class RandomModelsOnnxCacheTest {
    @TempDir
    Path tmp;

    @Test
    void anOlderExportBesideTheFolderIsNotTakenForTheCurrentGraphs() throws IOException {
        Path folder = Files.createSymbolicLink(tmp.resolve("tiny-seed0"), Fixtures.model("tiny-sd"));
        Path stale = Files.createDirectories(tmp.resolve("tiny-seed0-onnx"));
        Files.writeString(stale.resolve("model_index.json"), "{}"); // what revision 1 left under the old name
        StringWriter log = new StringWriter();
        Path onnx = RandomModels.cachedOnnx(folder, new PrintWriter(log, true));
        assertEquals(tmp.resolve("tiny-seed0-onnx-r" + OnnxExporter.GRAPH_REVISION), onnx);
        assertTrue(Files.isRegularFile(onnx.resolve("unet/model.onnx")), "exported: " + log);
        assertTrue(log.toString().contains("(once)"), log.toString());
        StringWriter again = new StringWriter();
        assertEquals(onnx, RandomModels.cachedOnnx(folder, new PrintWriter(again, true)));
        assertFalse(again.toString().contains("exporting"), "the second call reuses the export: " + again);
    }
}
