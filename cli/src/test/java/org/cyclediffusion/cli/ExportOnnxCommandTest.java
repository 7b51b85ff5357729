package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.cli.CliTest.Run;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export-onnx} and {@code random-model --format} through the command line: the export of
 * tiny-sd edits as the fixture's torch export does (the same command, the same seed), and an
 * existing output or an unknown format is refused.
 */
class ExportOnnxCommandTest {
    @TempDir
    Path tmp;

    @Test
    void exportEditsLikeTheTracedExport() throws Exception {
        Path out = tmp.resolve("tiny-sd-onnx");
        Run export = CliTest.run("export-onnx", "--model", Fixtures.model("tiny-sd").toString(), "--output", out.toString());
        assertEquals(0, export.code(), export.err());
        assertEquals(out.toString(), export.out().strip());
        assertTrue(export.err().contains("unet: ") && export.err().contains("safety_checker: "), export.err());

        float[] exported = edit(out, tmp.resolve("exported.npy"));
        float[] traced = edit(Fixtures.model("tiny-sd-onnx"), tmp.resolve("traced.npy"));
        assertEquals(traced.length, exported.length);
        double max = 0;
        for (int i = 0; i < traced.length; i++) {
            max = Math.max(max, Math.abs(traced[i] - exported[i]));
        }
        // both are within 2.5e-4 of diffusers (the ONNX parity tests); measured here: 1e-5 order
        assertTrue(max <= 2.5e-4, "max |d| " + max);

        Run again = CliTest.run("export-onnx", "--model", Fixtures.model("tiny-sd").toString(), "--output", out.toString());
        assertEquals(2, again.code(), again.err());
        assertTrue(again.err().contains("already exists"), again.err());
    }

    @Test
    void randomModelRefusesAnUnknownFormat() {
        Run r = CliTest.run("random-model", "sd15", "--format", "gguf", "--output", tmp.resolve("m").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--format gguf") && r.err().contains("diffusers or onnx"), r.err());
        assertFalse(Files.exists(tmp.resolve("m")));
    }

    private static float[] edit(Path model, Path npy) throws Exception {
        Run r = CliTest.run("edit", "--model", model.toString(), "--backend", "onnx", "--image", Fixtures.image("img_a_64x64.png").toString(),
                "--source-prompt", "An astronaut riding a horse", "--prompt", "An astronaut riding an elephant", "--steps", "10",
                "--guidance-scale", "2", "--seed", "0", "--no-safety-checker", "--quiet", "--output", npy.toString());
        assertEquals(0, r.code(), r.err());
        return CliParityTest.readNpy(npy).data();
    }
}
