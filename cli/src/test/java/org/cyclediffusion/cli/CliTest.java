package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a person uses it: exit codes, messages, files written. */
class CliTest {
    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    private List<String> editArgs(String... extra) {
        List<String> a = new ArrayList<>(List.of("edit", "--model", Fixtures.model("tiny-sd-onnx").toString(), "--image",
                Fixtures.image("img_a_64x64.png").toString(), "--source-prompt", "An astronaut riding a horse", "--prompt",
                "An astronaut riding an elephant", "--steps", "10", "--guidance-scale", "2", "--seed", "0", "--quiet"));
        a.addAll(List.of(extra));
        return a;
    }

    @Test
    void noCommandIsUsage() {
        Run r = run();
        assertEquals(2, r.code());
        assertTrue(r.err().contains("a command is required"), r.err());
    }

    @Test
    void missingRequiredFlagIsUsage() {
        Run r = run("edit", "--image", "x.png");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--model"), r.err());
    }

    @Test
    void etaZeroIsRejectedWithTheReason() {
        Run r = run(editArgs("--eta", "0", "--output", tmp.resolve("o.png").toString()).toArray(String[]::new));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--eta 0.0: ") && r.err().contains("eta > 0"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace without --verbose");
        assertFalse(Files.exists(tmp.resolve("o.png")));
    }

    @Test
    void missingImageNamesTheFile() {
        Path missing = tmp.resolve("nope.png");
        Run r = run("edit", "--model", Fixtures.model("tiny-sd-onnx").toString(), "--image", missing.toString(), "--source-prompt", "a",
                "--prompt", "b", "--output", tmp.resolve("o.png").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nope.png"), r.err());
    }

    @Test
    void badDeviceAndFormatNameTheFlag() {
        Run d = run(editArgs("--device", "tpu", "--output", tmp.resolve("o.png").toString()).toArray(String[]::new));
        assertEquals(2, d.code());
        assertTrue(d.err().contains("--device"), d.err());
        Run f = run(editArgs("--output-format", "gif", "--output", tmp.resolve("o.png").toString()).toArray(String[]::new));
        assertEquals(2, f.code());
        assertTrue(f.err().contains("--output-format"), f.err());
    }

    @Test
    void missingModelFolderNamesIt() {
        Run r = run("edit", "--model", tmp.resolve("no-model").toString(), "--image", Fixtures.image("img_a_64x64.png").toString(),
                "--source-prompt", "a", "--prompt", "b", "--output", tmp.resolve("o.png").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no-model"), r.err());
    }

    @Test
    void neverWritesOverTheInput() throws IOException {
        Path input = tmp.resolve("in.png");
        Files.copy(Fixtures.image("img_a_64x64.png"), input);
        byte[] before = Files.readAllBytes(input);
        Run r = run("edit", "--model", Fixtures.model("tiny-sd-onnx").toString(), "--image", input.toString(), "--source-prompt", "a",
                "--prompt", "b", "--steps", "2", "--strength", "1", "--seed", "1", "--quiet", "--output", input.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("is the input image"), r.err());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(input)));
    }

    @Test
    void tokenizeReportsCountAndTruncation() {
        Run r = run("tokenize", "--model", Fixtures.model("tiny-sd").toString(), "An astronaut riding a horse");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("49406") && r.out().contains("tokens: 7"), r.out());
        Run longer = run("tokenize", "--model", Fixtures.model("tiny-sd").toString(), "word ".repeat(100));
        assertTrue(longer.out().contains("truncated"), longer.out());
    }

    @Test
    void backendsAreListed() {
        Run r = run("backends");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("backend onnx") && r.out().contains("backend libtorch") && r.out().contains("scheduler DDIMScheduler"), r.out());
    }

    @Test
    void editWritesPngsAndJson() throws IOException {
        Path out = tmp.resolve("edit.png");
        Run r = run(editArgs("--num-images", "2", "--json", "--output", out.toString()).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertEquals(2, json.get("outputs").size());
        assertEquals(tmp.resolve("edit-0.png").toString(), json.get("outputs").get(0).get("path").asText());
        assertFalse(json.get("outputs").get(1).get("nsfw").asBoolean());
        assertEquals(0, json.get("parameters").get("seed").asLong());
        assertTrue(json.get("timings_ms").get("total").asDouble() > 0);
        RgbImage img = ImageFiles.read(tmp.resolve("edit-1.png"));
        assertEquals(64, img.width());
        try (var files = Files.list(tmp)) {
            assertEquals(List.of("edit-0.png", "edit-1.png"), files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "no temporary files left behind");
        }
    }
}
