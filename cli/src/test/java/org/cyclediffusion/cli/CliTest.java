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
import java.util.stream.Stream;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
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

    private static final List<String> MODEL_FLAGS = List.of("--model", "--revision", "--offline", "--config", "--variant", "--ema",
            "--prediction-type", "--backend", "--device", "--dtype", "--verbose");
    private static final List<String> SOURCE_HALF_FLAGS = List.of("--image", "--source-prompt", "--strength", "--steps",
            "--num-inference-steps", "--source-guidance-scale", "--eta", "--num-images", "--num-images-per-prompt", "--seed", "--clip-skip",
            "--scheduler");

    private static List<String> flags(String command) {
        CommandLine.Model.CommandSpec spec = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()))
                .getSubcommands().get(command).getCommandSpec();
        return spec.options().stream().flatMap(o -> Stream.of(o.names())).sorted().toList();
    }

    private static List<String> sorted(List<String> a, List<String> b, String... more) {
        return Stream.of(a.stream(), b.stream(), Stream.of(more)).flatMap(x -> x).sorted().toList();
    }

    /**
     * encode and edit declare their source-half flags once (EncodeOptions) and still take every
     * flag each took before, no more; the shared ones read alike in both helps, with the defaults
     * they always had.
     */
    @Test
    void encodeAndEditTakeTheFlagsTheyTookBefore() {
        assertEquals(sorted(MODEL_FLAGS, SOURCE_HALF_FLAGS, "--output", "--quiet", "-h", "--help", "-V", "--version"), flags("encode"));
        assertEquals(sorted(MODEL_FLAGS, SOURCE_HALF_FLAGS, "--prompt", "--guidance-scale", "--source-guided", "--target-model", "--target-config",
                "--no-safety-checker", "--max-pixels", "--max-memory", "--attention-slicing", "--vae-tiling", "--output", "--output-format",
                "--output-type", "--quality", "--json", "--quiet", "-h", "--help", "-V", "--version"), flags("edit"));
        CommandLine cl = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        CommandLine.Model.CommandSpec encode = cl.getSubcommands().get("encode").getCommandSpec();
        CommandLine.Model.CommandSpec edit = cl.getSubcommands().get("edit").getCommandSpec();
        for (String flag : SOURCE_HALF_FLAGS) {
            CommandLine.Model.OptionSpec a = encode.findOption(flag);
            CommandLine.Model.OptionSpec b = edit.findOption(flag);
            assertEquals(List.of(a.description()), List.of(b.description()), flag);
            assertEquals(a.defaultValue(), b.defaultValue(), flag);
            assertEquals(a.paramLabel(), b.paramLabel(), flag);
        }
        assertEquals("0.8", encode.findOption("--strength").defaultValue());
        assertEquals("50", encode.findOption("--steps").defaultValue());
        assertEquals("1", encode.findOption("--source-guidance-scale").defaultValue());
        assertEquals("0.1", encode.findOption("--eta").defaultValue());
        assertEquals("1", encode.findOption("--num-images").defaultValue());
        assertEquals("7.5", edit.findOption("--guidance-scale").defaultValue());
    }

    /** --seed parses alike in both (torch's 64-bit seeds): encode used to take only signed longs. */
    @Test
    void encodeTakesTheSeedsEditTakes() throws IOException {
        Path code = tmp.resolve("code.safetensors");
        Run r = run("encode", "--model", Fixtures.model("tiny-sd-onnx").toString(), "--image", Fixtures.image("img_a_64x64.png").toString(),
                "--source-prompt", "An astronaut riding a horse", "--steps", "2", "--seed", "18446744073709551615", "--quiet", "--output",
                code.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("18446744073709551615", Long.toUnsignedString(
                new ObjectMapper().readTree(org.cyclediffusion.core.pipeline.LatentCode.load(code).parameters().toString()).get("seed").asLong()));
        Run bad = run("encode", "--model", Fixtures.model("tiny-sd-onnx").toString(), "--image", Fixtures.image("img_a_64x64.png").toString(),
                "--source-prompt", "a", "--seed", "18446744073709551616", "--output", code.toString());
        assertEquals(2, bad.code(), bad.err());
        assertTrue(bad.err().contains("out of range"), bad.err());
    }
}
