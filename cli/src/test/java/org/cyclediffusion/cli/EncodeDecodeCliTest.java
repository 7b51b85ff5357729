package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.pipeline.LatentCode;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.HubCacheFixture;
import org.cyclediffusion.core.testing.LogCapture;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code encode}, {@code decode}, {@code edit --target-model}, {@code --scheduler} and {@code schedulers} as a person runs them. */
class EncodeDecodeCliTest {
    private static final String HORSE = "An astronaut riding a horse";
    private static final String ELEPHANT = "An astronaut riding an elephant";

    @TempDir
    Path tmp;

    private static String model(String name) {
        return Fixtures.model(name).toString();
    }

    private static String image() {
        return Fixtures.image("img_a_64x64.png").toString();
    }

    /** golden v01's source half (20 steps, strength 0.8, seed 0), on a model. */
    private CliTest.Run encode(String model, Path code, String... extra) {
        List<String> a = new ArrayList<>(List.of("encode", "--model", model(model), "--image", image(), "--source-prompt", HORSE, "--steps",
                "20", "--strength", "0.8", "--eta", "0.1", "--seed", "0", "--quiet", "--output", code.toString()));
        a.addAll(List.of(extra));
        return CliTest.run(a.toArray(String[]::new));
    }

    private static void assertMatches(String golden, Path npy) throws IOException {
        try (Golden g = Golden.open(golden)) {
            double[] d = TensorAssert.diffStats(CliParityTest.readNpy(npy).data(), g.f32("image_np").data());
            System.out.printf("%s through the CLI: image_np max |d| %.3g, mean |d| %.3g%n", golden, d[0], d[1]);
            assertTrue(d[0] <= 5e-3 && d[1] <= 5e-4, golden + ": max " + d[0] + ", mean " + d[1]);
        }
    }

    /** encode then decode gives golden v01 (the edit's image) on both backends; the code is a .safetensors file. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-sd", "tiny-sd-onnx"})
    void encodeThenDecodeIsTheEdit(String model) throws IOException {
        Path code = tmp.resolve("code.safetensors");
        CliTest.Run e = encode(model, code);
        assertEquals(0, e.code(), e.err());
        assertEquals(code.toString(), e.out().strip());
        LatentCode c = LatentCode.load(code);
        assertEquals(16, c.steps());
        assertEquals("DDIMScheduler", c.scheduler());
        Path npy = tmp.resolve("out.npy");
        CliTest.Run d = CliTest.run("decode", "--code", code.toString(), "--model", model(model), "--prompt", ELEPHANT, "--guidance-scale", "2",
                "--quiet", "--output", npy.toString());
        assertEquals(0, d.code(), d.err());
        assertMatches("cycle_v01_basic", npy);
        Path png = tmp.resolve("out.png");
        CliTest.Run p = CliTest.run("decode", "--code", code.toString(), "--model", model(model), "--prompt", ELEPHANT, "--guidance-scale", "2",
                "--quiet", "--output", png.toString());
        assertEquals(0, p.code(), p.err());
        // each PNG describes its own row (issue 9): one source prompt, and the A1111 parameters other tools read
        assertTrue(ImageFiles.readPngText(png).get("Comment").contains("\"source_prompt\":\"" + HORSE + "\""), "provenance in the PNG");
        assertTrue(ImageFiles.readPngText(png).get("parameters").startsWith(ELEPHANT + "\n"), "A1111 parameters in the PNG");
    }

    /** Unpaired translation (golden w01): edit with --target-model, and decode --model B on A's code, with B's checker on. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"libtorch", "onnx"})
    void twoModels(String backend) throws IOException {
        String suffix = backend.equals("onnx") ? "-onnx" : "";
        List<String> common = List.of("--image", image(), "--source-prompt", HORSE, "--steps", "10", "--strength", "0.8", "--eta", "0.1",
                "--seed", "7", "--quiet");
        Path edited = tmp.resolve("edit.npy");
        List<String> edit = new ArrayList<>(List.of("edit", "--model", model("tiny-sd" + suffix), "--target-model", model("tiny-sd-b" + suffix),
                "--prompt", ELEPHANT, "--guidance-scale", "3", "--json", "--output", edited.toString()));
        edit.addAll(common);
        CliTest.Run r = CliTest.run(edit.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"nsfw\":false"), "tiny-sd-b's checker ran: " + r.out());
        assertMatches("cycle_w01_two_models_cfg", edited);

        Path code = tmp.resolve("a.safetensors");
        List<String> enc = new ArrayList<>(List.of("encode", "--model", model("tiny-sd" + suffix), "--output", code.toString()));
        enc.addAll(common);
        assertEquals(0, CliTest.run(enc.toArray(String[]::new)).code());
        Path decoded = tmp.resolve("decoded.npy");
        CliTest.Run d = CliTest.run("decode", "--code", code.toString(), "--model", model("tiny-sd-b" + suffix), "--prompt", ELEPHANT,
                "--guidance-scale", "3", "--quiet", "--output", decoded.toString());
        assertEquals(0, d.code(), d.err());
        assertMatches("cycle_w01_two_models_cfg", decoded);
    }

    /**
     * --target-model and decode's --model take every form --model takes: here tiny-sd-b as a hub id
     * read offline from a Hugging Face cache (built by hand, huggingface_hub's layout), in a separate
     * JVM since the cache is found through $HF_HUB_CACHE. Same numbers as the folder (golden w01).
     */
    @Test
    void theTargetModelMayBeAHubId() throws IOException {
        Path cache = tmp.resolve("hub");
        HubCacheFixture.build(cache, "tests/tiny-sd-b", "0123456789abcdef0123456789abcdef01234567", Fixtures.model("tiny-sd-b"));
        java.util.Map<String, String> env = java.util.Map.of("HF_HUB_CACHE", cache.toString(), "HF_HUB_OFFLINE", "1");
        Path edited = tmp.resolve("edit.npy");
        CliProcess.Result r = CliProcess.run(tmp, env, "edit", "--model", model("tiny-sd"), "--target-model", "tests/tiny-sd-b", "--image",
                image(), "--source-prompt", HORSE, "--steps", "10", "--strength", "0.8", "--eta", "0.1", "--seed", "7", "--quiet", "--prompt",
                ELEPHANT, "--guidance-scale", "3", "--output", edited.toString());
        assertEquals(0, r.code(), r.err());
        assertMatches("cycle_w01_two_models_cfg", edited);

        CliTest.Run missing = CliTest.run("edit", "--model", model("tiny-sd"), "--target-model", "no/such/dir", "--image", image(),
                "--source-prompt", HORSE, "--prompt", ELEPHANT, "--quiet", "--output", tmp.resolve("o.png").toString());
        assertEquals(2, missing.code(), missing.err());
        assertTrue(missing.err().startsWith("error: --target-model no/such/dir: no such folder or file, and not a hub id"), missing.err());
        assertFalse(Files.exists(tmp.resolve("o.png")));
    }

    /** The PNG of a two-model edit, and of a decode on another model than the encoder's, names both models (JSON and A1111 text). */
    @Test
    void twoModelPngsNameBothModels() throws IOException {
        String a = model("tiny-sd");
        String b = model("tiny-sd-b");
        Path png = tmp.resolve("edit.png");
        CliTest.Run r = CliTest.run("edit", "--model", a, "--target-model", b, "--image", image(), "--source-prompt", HORSE, "--prompt",
                ELEPHANT, "--steps", "4", "--seed", "7", "--quiet", "--no-safety-checker", "--json", "--output", png.toString());
        assertEquals(0, r.code(), r.err());
        assertNamesBoth(png, a, b);
        assertTrue(r.out().contains("\"target_model\":\"" + b + "\""), "--json names model B: " + r.out());

        Path code = tmp.resolve("a.safetensors");
        assertEquals(0, CliTest.run("encode", "--model", a, "--image", image(), "--source-prompt", HORSE, "--steps", "4", "--seed", "7",
                "--quiet", "--output", code.toString()).code());
        Path decoded = tmp.resolve("decoded.png");
        CliTest.Run d = CliTest.run("decode", "--code", code.toString(), "--model", b, "--prompt", ELEPHANT, "--quiet", "--no-safety-checker",
                "--output", decoded.toString());
        assertEquals(0, d.code(), d.err());
        assertNamesBoth(decoded, a, b);
        Path same = tmp.resolve("same.png");
        assertEquals(0, CliTest.run("decode", "--code", code.toString(), "--model", a, "--prompt", ELEPHANT, "--quiet",
                "--no-safety-checker", "--output", same.toString()).code());
        assertFalse(ImageFiles.readPngText(same).get("Comment").contains("target_model"), "one model: no target_model");
    }

    private static void assertNamesBoth(Path png, String a, String b) throws IOException {
        JsonNode comment = new ObjectMapper().readTree(ImageFiles.readPngText(png).get("Comment"));
        assertEquals(a, comment.get("model").asText(), comment.toString());
        assertEquals(b, comment.get("target_model").asText(), comment.toString());
        String parameters = ImageFiles.readPngText(png).get("parameters");
        assertTrue(parameters.contains("Model: " + a + ", Target model: " + b + ","), parameters);
    }

    /** tiny-sd with other betas: a copy whose scheduler config differs, every other component linked. */
    private Path otherBetas() throws IOException {
        Path copy = tmp.resolve("tiny-sd-other-betas");
        Files.createDirectories(copy.resolve("scheduler"));
        try (Stream<Path> s = Files.list(Fixtures.model("tiny-sd"))) {
            for (Path p : s.toList()) {
                if (!p.getFileName().toString().equals("scheduler")) {
                    Files.createSymbolicLink(copy.resolve(p.getFileName().toString()), p);
                }
            }
        }
        String config = Files.readString(Fixtures.model("tiny-sd").resolve("scheduler/scheduler_config.json"));
        Files.writeString(copy.resolve("scheduler/scheduler_config.json"), config.replace("0.012", "0.02"));
        return copy;
    }

    @Test
    void decodingWithAnotherNoiseScheduleOrSamplerNamesBoth() throws IOException {
        Path code = tmp.resolve("code.safetensors");
        assertEquals(0, encode("tiny-sd", code).code());
        Path out = tmp.resolve("o.png");
        CliTest.Run betas = CliTest.run("decode", "--code", code.toString(), "--model", otherBetas().toString(), "--prompt", ELEPHANT,
                "--output", out.toString());
        assertEquals(2, betas.code(), betas.err());
        assertTrue(betas.err().contains("noise schedule") && betas.err().contains("sha256:"), betas.err());
        CliTest.Run sampler = CliTest.run("decode", "--code", code.toString(), "--model", model("tiny-sd"), "--scheduler", "DDPMScheduler",
                "--prompt", ELEPHANT, "--output", out.toString());
        assertEquals(2, sampler.code(), sampler.err());
        assertTrue(sampler.err().contains("DDIMScheduler") && sampler.err().contains("DDPMScheduler"), sampler.err());
        CliTest.Run steps = CliTest.run("decode", "--code", tmp.resolve("missing.safetensors").toString(), "--model", model("tiny-sd"),
                "--prompt", ELEPHANT, "--output", out.toString());
        assertEquals(2, steps.code());
        assertTrue(steps.err().contains("missing.safetensors"), steps.err());
        assertFalse(Files.exists(out));
    }

    /** A latent size the model cannot take: img_e's 7x8 latents encoded on LibTorch, decoded on the ONNX export. */
    @Test
    void aLatentSizeTheDecoderCannotTakeNamesBoth() {
        Path code = tmp.resolve("odd.safetensors");
        CliTest.Run e = CliTest.run("encode", "--model", model("tiny-sd"), "--image", Fixtures.image("img_e_70x60.png").toString(),
                "--source-prompt", HORSE, "--steps", "10", "--seed", "0", "--quiet", "--output", code.toString());
        assertEquals(0, e.code(), e.err());
        CliTest.Run d = CliTest.run("decode", "--code", code.toString(), "--model", model("tiny-sd-onnx"), "--prompt", ELEPHANT, "--output",
                tmp.resolve("o.png").toString());
        assertEquals(2, d.code(), d.err());
        assertTrue(d.err().contains("7x8") && d.err().contains("tiny-sd-onnx"), d.err());
    }

    @Test
    void modelsThatDoNotShareANoiseScheduleAreRefusedAtLoad() throws IOException {
        CliTest.Run r = CliTest.run("edit", "--model", model("tiny-sd"), "--target-model", otherBetas().toString(), "--image", image(),
                "--source-prompt", HORSE, "--prompt", ELEPHANT, "--steps", "10", "--quiet", "--output", tmp.resolve("o.png").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("do not share a noise schedule") && r.err().contains("tiny-sd-other-betas"), r.err());
    }

    /** --scheduler on edit, like diffusers' from_config: the DDPM plug-in on tiny-sd's DDIM config. */
    @Test
    void editWithAnotherSchedulerAndTheListOfSchedulers() {
        CliTest.Run list = CliTest.run("schedulers");
        assertEquals(0, list.code(), list.err());
        assertTrue(list.out().contains("DDIMScheduler  DPM-Encoder: yes") && list.out().contains("DDPMScheduler  DPM-Encoder: yes"), list.out());
        Path out = tmp.resolve("ddpm.png");
        CliTest.Run r = CliTest.run("edit", "--model", model("tiny-sd"), "--scheduler", "DDPMScheduler", "--image", image(), "--source-prompt",
                HORSE, "--prompt", ELEPHANT, "--steps", "10", "--seed", "0", "--quiet", "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(out));
        CliTest.Run unknown = CliTest.run("edit", "--model", model("tiny-sd"), "--scheduler", "EulerScheduler", "--image", image(),
                "--source-prompt", HORSE, "--prompt", ELEPHANT, "--output", out.toString());
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("EulerScheduler") && unknown.err().contains("DDPMScheduler"), unknown.err());
    }

    /**
     * decode checks its output as edit does, before any model resolves or loads: the model named
     * here does not exist, so each run proves its check comes first. One line, exit 2, naming the flag.
     */
    @Test
    void decodeChecksItsOutputBeforeLoading() throws IOException {
        Path code = tmp.resolve("code.safetensors");
        assertEquals(0, encode("tiny-sd", code).code());
        byte[] before = Files.readAllBytes(code);
        String[][] cases = {
            {tmp.resolve("missing/o.png").toString(), null, "--output", "does not exist"},
            {tmp.toString(), null, "--output", "is a directory"},
            {tmp.resolve("o.tiff").toString(), null, "--output", "unknown extension"},
            {tmp.resolve("o.png").toString(), "npy", "--output-format npy and --output", "disagree"},
            {tmp.resolve("o.webp").toString(), null, "--output", "WebP output is not supported"},
            {tmp.resolve("o.png").toString(), "gif", "--output-format 'gif'", "expected png, jpg or npy"},
        };
        for (String[] c : cases) {
            List<String> a = new ArrayList<>(List.of("decode", "--code", code.toString(), "--model", "no/such/model-dir", "--prompt", ELEPHANT,
                    "--quiet", "--output", c[0]));
            if (c[1] != null) {
                a.addAll(List.of("--output-format", c[1]));
            }
            CliTest.Run r = CliTest.run(a.toArray(String[]::new));
            assertEquals(2, r.code(), String.join(" ", a) + ": " + r.err());
            assertEquals(1, r.err().lines().count(), r.err());
            assertTrue(r.err().startsWith("error: " + c[2]) && r.err().contains(c[3]), r.err());
        }
        // a code under an output's name (the code's format does not depend on its extension) is not written over
        Path npyCode = Files.copy(code, tmp.resolve("code.npy"));
        CliTest.Run over = CliTest.run("decode", "--code", npyCode.toString(), "--model", "no/such/model-dir", "--prompt", ELEPHANT, "--quiet",
                "--output", npyCode.toString());
        assertEquals(2, over.code(), over.err());
        assertTrue(over.err().startsWith("error: --output " + npyCode + ": " + npyCode + " is the code " + npyCode + "; choose another file"),
                over.err());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(npyCode)), "the code is untouched");
        CliTest.Run quality = CliTest.run("decode", "--code", code.toString(), "--model", model("tiny-sd"), "--prompt", ELEPHANT, "--quiet",
                "--output", tmp.resolve("o.png").toString(), "--quality", "80");
        assertEquals(2, quality.code(), quality.err());
        assertTrue(quality.err().contains("--quality 80: only JPEG output has a quality"), quality.err());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(code)), "the code is untouched");
        try (Stream<Path> left = Files.list(tmp)) {
            assertEquals(java.util.Set.of(code, npyCode), left.filter(p -> !Files.isDirectory(p)).collect(java.util.stream.Collectors.toSet()),
                    "nothing written, no staging file left");
        }

        // and the formats edit writes: JPEG with its quality and the A1111 parameters
        Path jpg = tmp.resolve("o.jpg");
        CliTest.Run ok = CliTest.run("decode", "--code", code.toString(), "--model", model("tiny-sd"), "--prompt", ELEPHANT, "--quiet",
                "--no-safety-checker", "--output", jpg.toString(), "--quality", "80");
        assertEquals(0, ok.code(), ok.err());
        assertEquals(jpg.toString(), ok.out().strip());
        assertEquals(64, ImageFiles.read(jpg).width());
    }

    @Test
    void encodeNeverWritesOverItsInput() throws IOException {
        Path input = tmp.resolve("in.png");
        Files.copy(Fixtures.image("img_a_64x64.png"), input);
        byte[] before = Files.readAllBytes(input);
        CliTest.Run r = CliTest.run("encode", "--model", model("tiny-sd"), "--image", input.toString(), "--source-prompt", HORSE, "--quiet",
                "--output", input.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("is the input image"), r.err());
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(input)));
    }

    /**
     * encode makes no image, so it needs no safety checker: on a copy of the model whose
     * safety_checker/ is absent, or holds a file that is no network, it writes the code it writes on
     * the model itself and warns about nothing; edit on the same copy still refuses, naming the checker.
     */
    @ParameterizedTest(name = "{0}, safety_checker/ {1}")
    @CsvSource({"tiny-sd-onnx, absent", "tiny-sd-onnx, broken", "tiny-sd, absent", "tiny-sd, broken"})
    void encodeNeedsNoSafetyChecker(String name, String checker) throws IOException {
        Path src = Fixtures.model(name);
        Path copy = tmp.resolve("model");
        try (Stream<Path> files = Files.walk(src)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Path rel = src.relativize(f);
                if (!rel.startsWith("safety_checker")) {
                    Files.createDirectories(copy.resolve(rel).getParent());
                    Files.createSymbolicLink(copy.resolve(rel), f.toAbsolutePath());
                }
            }
        }
        if (checker.equals("broken")) {
            Path dir = Files.createDirectories(copy.resolve("safety_checker"));
            String weights = name.endsWith("onnx") ? "model.onnx" : "model.safetensors";
            Files.writeString(dir.resolve(weights), "not a network");
            if (Files.exists(src.resolve("safety_checker/config.json"))) {
                Files.copy(src.resolve("safety_checker/config.json"), dir.resolve("config.json"));
            }
        }
        Path expected = tmp.resolve("expected.safetensors");
        assertEquals(0, encode(name, expected).code());
        Path code = tmp.resolve("code.safetensors");
        try (LogCapture log = LogCapture.of(org.cyclediffusion.core.pipeline.PipelineLoader.class)) {
            CliTest.Run r = CliTest.run("encode", "--model", copy.toString(), "--image", image(), "--source-prompt", HORSE, "--steps", "20",
                    "--strength", "0.8", "--eta", "0.1", "--seed", "0", "--quiet", "--output", code.toString());
            assertEquals(0, r.code(), r.err());
            assertEquals("", r.err());
            assertEquals(List.of(), log.warnings());
        }
        LatentCode a = LatentCode.load(expected);
        LatentCode b = LatentCode.load(code);
        assertArrayEquals(a.startLatents().data(), b.startLatents().data());
        assertArrayEquals(a.noises().data(), b.noises().data());

        CliTest.Run edit = CliTest.run("edit", "--model", copy.toString(), "--image", image(), "--source-prompt", HORSE, "--prompt", ELEPHANT,
                "--steps", "2", "--quiet", "--output", tmp.resolve("o.png").toString());
        assertTrue(edit.code() != 0, edit.err());
        assertTrue(edit.err().contains("safety_checker"), edit.err());
        assertFalse(Files.exists(tmp.resolve("o.png")));
    }
}
