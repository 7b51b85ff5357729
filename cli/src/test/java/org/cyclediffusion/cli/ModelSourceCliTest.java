package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.cli.CliTest.Run;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --model} in its three forms on the command line; every failure one line, exit 2, nothing written. */
class ModelSourceCliTest {
    @TempDir
    Path tmp;

    private Run edit(String... modelArgs) {
        List<String> a = new ArrayList<>(List.of("edit"));
        a.addAll(List.of(modelArgs));
        a.addAll(List.of("--image", Fixtures.image("img_a_64x64.png").toString(), "--source-prompt", "An astronaut riding a horse",
                "--prompt", "An astronaut riding an elephant", "--steps", "10", "--guidance-scale", "2", "--seed", "0", "--quiet",
                "--no-safety-checker", "--output", tmp.resolve("o.png").toString()));
        return CliTest.run(a.toArray(String[]::new));
    }

    private void assertUsage(Run r, String... expected) {
        assertEquals(2, r.code(), r.err());
        String first = r.err().lines().findFirst().orElse("");
        for (String e : expected) {
            assertTrue(first.contains(e), "'" + e + "' not in: " + r.err());
        }
        assertEquals(1, r.err().lines().count(), "one line: " + r.err());
        assertFalse(Files.exists(tmp.resolve("o.png")), "nothing written");
    }

    @Test
    void aSingleFileWithItsConfigFolderEdits() {
        Run r = edit("--model", Fixtures.root().resolve("single-file/tiny-sd.safetensors").toString(), "--config",
                Fixtures.model("tiny-sd").toString(), "--backend", "libtorch");
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(tmp.resolve("o.png")));
    }

    @Test
    void aSingleFileIsNotLoadedByAnotherBackend() {
        assertUsage(edit("--model", Fixtures.root().resolve("single-file/tiny-sd.safetensors").toString(), "--config",
                Fixtures.model("tiny-sd-onnx").toString(), "--backend", "onnx"), "loads on the libtorch backend");
    }

    @Test
    void picklesAreRefused() throws Exception {
        Path ckpt = tmp.resolve("v1-5-pruned.ckpt");
        Files.write(ckpt, new byte[] {(byte) 0x80, 2});
        assertUsage(edit("--model", ckpt.toString()), "v1-5-pruned.ckpt", "arbitrary code", "save_file(");
    }

    @Test
    void aFileOfAnotherLayoutNamesTheKeys() {
        assertUsage(edit("--model", Fixtures.model("tiny-sd").resolve("unet/diffusion_pytorch_model.safetensors").toString()),
                "model.diffusion_model.*", "found", "down_blocks");
    }

    @Test
    void aStandardFileOfOtherSizesAsksForConfig() {
        assertUsage(edit("--model", Fixtures.root().resolve("single-file/tiny-sd.safetensors").toString()), "pass --config");
    }

    @Test
    void offlineHubIdNotCachedNamesIdRevisionAndCache() {
        assertUsage(edit("--model", "cyclediffusion-tests/absent-model@v9", "--offline"), "cyclediffusion-tests/absent-model@v9",
                "models--cyclediffusion-tests--absent-model", "offline");
    }

    @Test
    void neitherPathNorHubIdListsTheForms() {
        assertUsage(edit("--model", "no/such/dir"), "not a hub id", "ORG/NAME");
    }

    @Test
    void flagsForAnotherFormAreRefused() {
        String folder = Fixtures.model("tiny-sd").toString();
        assertUsage(edit("--model", folder, "--config", folder), "--config applies to single-file checkpoints");
        assertUsage(edit("--model", folder, "--ema"), "--ema applies to");
        assertUsage(edit("--model", folder, "--variant", "fp16", "--backend", "libtorch"), "--variant fp16", "no variant files at all");
        assertUsage(edit("--model", folder, "--prediction-type", "x0"), "--prediction-type", "epsilon, v_prediction or sample");
    }

    @Test
    void helpListsTheForms() {
        Run r = CliTest.run("edit", "--help");
        assertTrue(r.out().contains("single-file checkpoint") && r.out().contains("ORG/NAME@REVISION") && r.out().contains("--offline")
                && r.out().contains("--variant") && r.out().contains("--prediction-type"), r.out());
    }

    @Test
    void tokenizeTakesTheSameForms() {
        Run r = CliTest.run("tokenize", "--model", Fixtures.root().resolve("single-file/tiny-sd2.safetensors").toString(), "--config",
                Fixtures.model("tiny-sd2").toString(), "a photo");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("ids: [49406, 320, 1125, 49407"), r.out());
    }
}
