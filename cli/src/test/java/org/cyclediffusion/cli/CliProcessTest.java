package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 9, row by row, through the real command line in its own JVM: everything that can be
 * known before the model loads fails in the first second with exit 2 and one line naming the flag
 * (no "loading model" line, no model run); what runs writes what the flags say.
 */
class CliProcessTest {
    @TempDir
    Path tmp;

    static final String MODEL = Fixtures.model("tiny-sd-onnx").toString();
    static final String IMAGE = Fixtures.image("img_a_64x64.png").toString();

    /** An edit with progress on (so the absence of "loading model" shows nothing loaded). */
    private List<String> edit(String... extra) {
        java.util.LinkedHashMap<String, String> base = new java.util.LinkedHashMap<>();
        base.put("--model", MODEL);
        base.put("--steps", "4");
        base.put("--strength", "1");
        base.put("--guidance-scale", "2");
        base.put("--seed", "0");
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < extra.length; i++) {
            boolean valued = i + 1 < extra.length && !extra[i + 1].startsWith("--");
            if (valued && base.containsKey(extra[i])) {
                base.put(extra[i], extra[++i]); // the test's value replaces the default one
            } else {
                rest.add(extra[i]);
            }
        }
        List<String> a = new ArrayList<>(List.of("edit"));
        base.forEach((k, v) -> a.addAll(List.of(k, v)));
        if (!rest.contains("--image")) {
            a.addAll(List.of("--image", IMAGE));
        }
        a.addAll(List.of("--source-prompt", "An astronaut riding a horse", "--prompt", "An astronaut riding an elephant"));
        a.addAll(rest);
        return a;
    }

    private CliProcess.Result run(List<String> args) {
        return CliProcess.run(tmp, args.toArray(String[]::new));
    }

    /** Exit 2, one error line naming every {@code expected} word, nothing loaded, no stack trace. */
    private static void assertRefusedEarly(CliProcess.Result r, String... expected) {
        assertEquals(2, r.code(), r.err());
        List<String> errors = r.err().lines().filter(l -> l.startsWith("error: ")).toList();
        assertEquals(1, errors.size(), r.err());
        for (String e : expected) {
            assertTrue(errors.get(0).contains(e), "expected '" + e + "' in: " + errors.get(0));
        }
        assertFalse(r.err().contains("loading model"), "refused before loading the model: " + r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertFalse(r.err().contains("seed:"), "no seed printed for a run that never starts: " + r.err());
    }

    private List<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    // --- the output, checked before the model loads ----------------------------------------------

    @Test
    void outputInAMissingDirectory() {
        CliProcess.Result r = run(edit("--output", tmp.resolve("no/such/dir/o.png").toString()));
        assertRefusedEarly(r, "--output", "does not exist");
    }

    @Test
    void outputInAReadOnlyDirectory() throws IOException {
        Path ro = Files.createDirectory(tmp.resolve("ro"));
        assertTrue(ro.toFile().setWritable(false, false));
        Path dir = canCreateIn(ro) ? Path.of("/sys") : ro; // root writes through 0555; not into sysfs
        assumeTrue(!canCreateIn(dir), "no directory this user cannot write to (root on a system without a read-only sysfs)");
        CliProcess.Result r = run(edit("--output", dir.resolve("o.png").toString()));
        assertRefusedEarly(r, "--output", "cannot write in directory " + dir);
        ro.toFile().setWritable(true, false);
    }

    private static boolean canCreateIn(Path dir) {
        try {
            Files.delete(Files.createTempFile(dir, "probe", ".tmp"));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void outputThatIsADirectory() {
        CliProcess.Result r = run(edit("--output", tmp.toString()));
        assertRefusedEarly(r, "--output", "is a directory");
    }

    @Test
    void outputThatIsTheInputAlsoForNumberedBatchFiles() throws IOException {
        Path in = tmp.resolve("o-1.png");
        Files.copy(Path.of(IMAGE), in);
        byte[] before = Files.readAllBytes(in);
        CliProcess.Result same = run(List.of("edit", "--model", MODEL, "--image", in.toString(), "--source-prompt", "a", "--prompt", "b",
                "--output", in.toString()));
        assertRefusedEarly(same, "--output", "is the input image");
        // two images: o.png becomes o-0.png and o-1.png, and o-1.png is the input
        CliProcess.Result batch = run(List.of("edit", "--model", MODEL, "--image", in.toString(), "--source-prompt", "a", "--prompt", "b",
                "--num-images", "2", "--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(batch, "--output", "o-1.png is the input image");
        assertArrayEquals(before, Files.readAllBytes(in));
        assertEquals(List.of("o-1.png"), files(tmp));
    }

    @Test
    void formatAndExtensionMustAgree() {
        assertRefusedEarly(run(edit("--output-format", "npy", "--output", tmp.resolve("x.png").toString())), "--output-format npy",
                "--output " + tmp.resolve("x.png"));
        assertRefusedEarly(run(edit("--output", tmp.resolve("x.webp").toString())), "--output", "WebP output is not supported");
        assertRefusedEarly(run(edit("--output", tmp.resolve("x.gif").toString())), "--output", "unknown extension '.gif'");
        assertRefusedEarly(run(edit("--quality", "80", "--output", tmp.resolve("x.png").toString())), "--quality", "JPEG");
    }

    @Test
    void jpegOutputIsJpegWithItsQualityAndParameters() throws IOException {
        Path lo = tmp.resolve("lo.jpg");
        Path hi = tmp.resolve("hi.jpeg");
        CliProcess.Result a = run(edit("--quiet", "--quality", "20", "--output", lo.toString()));
        assertEquals(0, a.code(), a.err());
        CliProcess.Result b = run(edit("--quiet", "--quality", "100", "--output", hi.toString()));
        assertEquals(0, b.code(), b.err());
        for (Path p : List.of(lo, hi)) {
            byte[] bytes = Files.readAllBytes(p);
            assertEquals((byte) 0xFF, bytes[0]);
            assertEquals((byte) 0xD8, bytes[1], "JPEG SOI marker in " + p);
            BufferedImage img = ImageIO.read(p.toFile());
            assertEquals(64, img.getWidth());
            assertTrue(new String(bytes, java.nio.charset.StandardCharsets.ISO_8859_1).contains("Steps: 4, Sampler: DDIM"),
                    "A1111 parameters in a COM segment of " + p);
        }
        assertTrue(Files.size(lo) < Files.size(hi), "--quality 20 is smaller than --quality 100");
    }

    // --- input ----------------------------------------------------------------------------------

    @Test
    void webpInputIsRead() throws IOException {
        Path webp = Path.of(System.getProperty("user.dir"), "src/test/resources/img_a_64x64.webp");
        // a lossless WebP of the PNG fixture (cwebp -lossless -exact): the same pixels
        RgbImage fromWebp = ImageFiles.read(webp);
        assertArrayEquals(ImageFiles.read(Path.of(IMAGE)).rgb(), fromWebp.rgb());
        Path outWebp = tmp.resolve("from-webp.png");
        Path outPng = tmp.resolve("from-png.png");
        CliProcess.Result a = run(List.of("edit", "--model", MODEL, "--image", webp.toString(), "--source-prompt", "a", "--prompt", "b",
                "--steps", "2", "--strength", "1", "--seed", "3", "--quiet", "--output", outWebp.toString()));
        assertEquals(0, a.code(), a.err());
        CliProcess.Result b = run(List.of("edit", "--model", MODEL, "--image", IMAGE, "--source-prompt", "a", "--prompt", "b",
                "--steps", "2", "--strength", "1", "--seed", "3", "--quiet", "--output", outPng.toString()));
        assertEquals(0, b.code(), b.err());
        assertArrayEquals(ImageFiles.read(outPng).rgb(), ImageFiles.read(outWebp).rgb());
    }

    // --- exit codes and messages name the flags -------------------------------------------------

    static Stream<Arguments> badFlags() {
        return Stream.of(
                Arguments.of(List.of("--steps", "0"), "--steps 0: expected at least 1"),
                Arguments.of(List.of("--num-images", "-2"), "--num-images -2: expected at least 1"),
                Arguments.of(List.of("--guidance-scale", "NaN"), "--guidance-scale NaN: expected a finite number"),
                Arguments.of(List.of("--clip-skip", "-1"), "--clip-skip -1: expected 0 or more"),
                Arguments.of(List.of("--image", IMAGE, "--image", IMAGE, "--source-prompt", "x", "--source-prompt", "y"), "--image: 2 given, expected 1"),
                Arguments.of(List.of("--strength", "1.5"), "--strength 1.5: expected a value in [0, 1]"),
                Arguments.of(List.of("--eta", "0"), "--eta 0.0: CycleDiffusion needs a stochastic sampler"));
    }

    @ParameterizedTest
    @MethodSource("badFlags")
    void badValuesNameTheFlag(List<String> flags, String message) {
        List<String> a = new ArrayList<>(flags);
        a.addAll(List.of("--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(run(edit(a.toArray(String[]::new))), message);
    }

    @Test
    void stepRangeIsTheSameWhateverTheCount() {
        CliProcess.Result thousand = run(edit("--steps", "1000", "--output", tmp.resolve("o.png").toString()));
        CliProcess.Result huge = run(edit("--steps", "100000", "--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(thousand, "--steps 1000", "expected a value in [1, 999]");
        assertRefusedEarly(huge, "--steps 100000", "expected a value in [1, 999]");
    }

    @Test
    void clipSkipBeyondTheTextEncoderNamesTheFlagAndTheLayers() {
        CliProcess.Result r = run(edit("--clip-skip", "100", "--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(r, "--clip-skip 100", "expected 0 to 4", "has 5 layers");
    }

    // --- the model folder -----------------------------------------------------------------------

    @Test
    void modelWithoutUnetSaysWhatIsThereAndWhatIsMissing() throws IOException {
        Path m = copyModel("tiny-sd");
        deleteTree(m.resolve("unet"));
        CliProcess.Result r = run(List.of("edit", "--model", m.toString(), "--backend", "libtorch", "--image", IMAGE, "--source-prompt", "a",
                "--prompt", "b", "--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(r, "no unet/ folder", "text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors",
                "download the whole model");
        CliProcess.Result auto = run(List.of("edit", "--model", m.toString(), "--image", IMAGE, "--source-prompt", "a", "--prompt", "b",
                "--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(auto, "no unet/ folder", "vae/diffusion_pytorch_model.safetensors");
    }

    @Test
    void pickleUnetGetsThePickleExplanation() throws IOException {
        Path m = copyModel("tiny-sd");
        Files.move(m.resolve("unet/diffusion_pytorch_model.safetensors"), m.resolve("unet/diffusion_pytorch_model.bin"));
        CliProcess.Result r = run(List.of("edit", "--model", m.toString(), "--image", IMAGE, "--source-prompt", "a", "--prompt", "b",
                "--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(r, "unet/diffusion_pytorch_model.bin", "pickle", "safe_serialization=True");
    }

    @Test
    void aTruncatedOnnxModelIsTheInputsFault() throws IOException {
        Path m = copyModel("tiny-sd-onnx");
        Path unet = m.resolve("unet/model.onnx");
        try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(unet, java.nio.file.StandardOpenOption.WRITE)) {
            c.truncate(2000);
        }
        CliProcess.Result r = run(List.of("edit", "--model", m.toString(), "--image", IMAGE, "--source-prompt", "a", "--prompt", "b",
                "--steps", "2", "--quiet", "--output", tmp.resolve("o.png").toString()));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains(unet + ": not an ONNX model") && r.err().contains("truncated or corrupt"), r.err());
        assertFalse(Files.exists(tmp.resolve("o.png")));
    }

    private Path copyModel(String name) throws IOException {
        Path src = Fixtures.model(name);
        Path dst = tmp.resolve("model-" + name);
        try (Stream<Path> all = Files.walk(src)) {
            for (Path p : all.toList()) {
                Path t = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return dst;
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> all = Files.walk(p)) {
            for (Path q : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    // --- seeds as torch takes them --------------------------------------------------------------

    @Test
    void seedsTakeTorchsUnsignedRangeAndItsLow32Bits() throws IOException {
        // torch.manual_seed(2**63) seeds mt19937 with 2**63 mod 2**32 = 0: the same images as seed 0
        Path big = tmp.resolve("big.png");
        Path zero = tmp.resolve("zero.png");
        CliProcess.Result a = run(edit("--quiet", "--seed", "9223372036854775808", "--json", "--output", big.toString()));
        assertEquals(0, a.code(), a.err());
        assertEquals("9223372036854775808", new ObjectMapper().readTree(a.out()).get("parameters").get("seed").asText());
        CliProcess.Result b = run(edit("--quiet", "--output", zero.toString()));
        assertEquals(0, b.code(), b.err());
        assertArrayEquals(ImageFiles.read(zero).rgb(), ImageFiles.read(big).rgb());
        assertTrue(ImageFiles.readPngText(big).get("parameters").contains("Seed: 9223372036854775808"));
        CliProcess.Result max = run(edit("--quiet", "--seed", "18446744073709551615", "--output", tmp.resolve("max.png").toString()));
        assertEquals(0, max.code(), max.err());
        CliProcess.Result over = run(edit("--seed", "18446744073709551616", "--output", tmp.resolve("over.png").toString()));
        assertEquals(2, over.code(), over.err());
        assertTrue(over.err().contains("--seed") && over.err().contains("18446744073709551615"), over.err());
    }

    // --- memory ---------------------------------------------------------------------------------

    @Test
    void aHugeInputIsRefusedBeforeAnyNetworkWithTheWayOut() throws IOException {
        Path huge = tmp.resolve("huge.png");
        BufferedImage img = new BufferedImage(4000, 4000, BufferedImage.TYPE_3BYTE_BGR);
        ImageIO.write(img, "png", huge.toFile());
        CliProcess.Result r = run(List.of("edit", "--model", MODEL, "--image", huge.toString(), "--source-prompt", "a", "--prompt", "b",
                "--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(r, "--image 4000x4000", "needs about", "is available", "--max-pixels", "resize the input to at most");
        assertTrue(r.seconds() < 60, "refused quickly: " + r.seconds() + " s");
        // LibTorch too: before this check it ran to the machine's memory limit and was killed
        CliProcess.Result torch = run(List.of("edit", "--model", Fixtures.model("tiny-sd").toString(), "--backend", "libtorch", "--image",
                huge.toString(), "--source-prompt", "a", "--prompt", "b", "--output", tmp.resolve("o.png").toString()));
        assertRefusedEarly(torch, "--image 4000x4000", "needs about", "--max-pixels");
        // the way out it names works: shrink to 64x64 and run
        CliProcess.Result shrunk = run(List.of("edit", "--model", MODEL, "--image", huge.toString(), "--source-prompt", "a", "--prompt", "b",
                "--steps", "2", "--strength", "1", "--seed", "0", "--max-pixels", "4096", "--output", tmp.resolve("o.png").toString()));
        assertEquals(0, shrunk.code(), shrunk.err());
        assertTrue(shrunk.err().contains("resized the input from 4000x4000 to 64x64"), shrunk.err());
        assertEquals(64, ImageFiles.read(tmp.resolve("o.png")).width());
    }

    @Test
    void aNormalInputIsAcceptedAndTheLimitIsTheUsers() {
        CliProcess.Result ok = run(edit("--quiet", "--output", tmp.resolve("ok.png").toString()));
        assertEquals(0, ok.code(), ok.err());
        CliProcess.Result tight = run(edit("--max-memory", "1m", "--output", tmp.resolve("no.png").toString()));
        assertRefusedEarly(tight, "--image 64x64", "is the --max-memory limit");
    }

    // --- prompts, metadata, progress ------------------------------------------------------------

    @Test
    void promptsLongerThanClipTakesAreWarnedAboutWithTheDroppedText() {
        String prompt = "a photo of a horse ".repeat(16) + "zebra stripes everywhere";
        CliProcess.Result r = run(List.of("edit", "--model", MODEL, "--image", IMAGE, "--source-prompt", "a horse", "--prompt", prompt,
                "--steps", "2", "--strength", "1", "--seed", "0", "--quiet", "--output", tmp.resolve("o.png").toString()));
        assertEquals(0, r.code(), r.err());
        List<String> warnings = r.err().lines().filter(l -> l.startsWith("warning: ")).toList();
        assertEquals(1, warnings.size(), r.err());
        assertTrue(warnings.get(0).contains("truncated because CLIP can only handle sequences up to 77 tokens")
                && warnings.get(0).contains("zebra stripes everywhere"), warnings.get(0));
    }

    @Test
    void eachPngCarriesItsOwnRowAndA1111Parameters() throws IOException {
        Path out = tmp.resolve("o.png");
        CliProcess.Result r = run(List.of("edit", "--model", MODEL, "--image", IMAGE, "--source-prompt", "a horse", "--prompt", "an elephant",
                "--prompt", "a zebra", "--steps", "2", "--strength", "1", "--guidance-scale", "2", "--seed", "7", "--quiet", "--output",
                out.toString()));
        assertEquals(0, r.code(), r.err());
        String[] prompts = {"an elephant", "a zebra"};
        for (int i = 0; i < 2; i++) {
            Map<String, String> text = ImageFiles.readPngText(tmp.resolve("o-" + i + ".png"));
            JsonNode row = new ObjectMapper().readTree(text.get("Comment"));
            assertEquals(prompts[i], row.get("prompt").asText());
            assertEquals("a horse", row.get("source_prompt").asText());
            assertEquals(i, row.get("index").asInt());
            assertEquals(7, row.get("seed").asLong());
            String a1111 = text.get("parameters");
            assertTrue(a1111.startsWith(prompts[i] + "\n"), a1111);
            assertTrue(a1111.contains("Steps: 2, Sampler: DDIM, CFG scale: 2, Seed: 7, Size: 64x64")
                    && a1111.contains("Denoising strength: 1") && a1111.contains("Batch size: 2, Batch pos: " + i)
                    && a1111.contains("Source prompt: a horse"), a1111);
            assertFalse(text.get("Comment").contains(prompts[1 - i]), "only its own row: " + text.get("Comment"));
        }
    }

    @Test
    void progressShowsEveryPhaseOnStderrAndQuietSilencesIt() {
        CliProcess.Result r = run(edit("--output", tmp.resolve("o.png").toString()));
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.err().lines().toList();
        String[] phases = {"loading model", "encoding prompts", "encoding image", "denoising", "step 1/4", "step 4/4", "decoding",
            "safety checker", "writing"};
        int at = -1;
        for (String p : phases) {
            int found = -1;
            for (int i = at + 1; i < lines.size(); i++) {
                if (lines.get(i).startsWith(p)) {
                    found = i;
                    break;
                }
            }
            assertTrue(found > at, "phase '" + p + "' after the previous one in:\n" + r.err());
            at = found;
        }
        assertTrue(r.err().contains("s/step") && r.err().contains("left"), "steps show their time and what is left: " + r.err());
        assertEquals(tmp.resolve("o.png").toString(), r.out().strip(), "results on stdout, progress on stderr");
        CliProcess.Result quiet = run(edit("--quiet", "--output", tmp.resolve("q.png").toString()));
        assertEquals(0, quiet.code(), quiet.err());
        assertEquals("", quiet.err());
    }

    @Test
    void aProgressBarOnATerminal() throws IOException, InterruptedException {
        Path script = Path.of("/usr/bin/script");
        assumeTrue(Files.isExecutable(script), "util-linux script(1) gives the child a terminal; not installed");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g", "-cp",
                System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(edit("--output", tmp.resolve("o.png").toString()));
        String line = String.join(" ", cmd.stream().map(s -> "'" + s.replace("'", "'\\''") + "'").toList());
        Path log = tmp.resolve("tty.log");
        // stdout to a file, stderr on the terminal script(1) opens
        Process p = new ProcessBuilder(script.toString(), "-qec", line + " >" + tmp.resolve("stdout.txt"), log.toString())
                .directory(tmp.toFile()).redirectErrorStream(true).redirectOutput(tmp.resolve("script-out.txt").toFile()).start();
        assertTrue(p.waitFor(300, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("script-out.txt")));
        String tty = Files.readString(log);
        assertTrue(tty.contains("denoising") && tty.contains("4/4") && tty.contains("loading model"), tty);
        assertFalse(tty.contains("s/step"), "a bar, not the plain lines: " + tty);
    }

    @Test
    void theReadmesOutputIsIgnoredByGit() throws IOException, InterruptedException {
        Path root = Path.of(System.getProperty("user.dir")).getParent();
        assumeTrue(Files.exists(root.resolve(".git")), "not a git checkout: " + root);
        for (String f : new String[] {"out.png", "out-0.png"}) {
            Process p = new ProcessBuilder("git", "-C", root.toString(), "check-ignore", "-q", f).inheritIO().start();
            assertEquals(0, p.waitFor(), f + " is ignored (the README's first edit writes it in the checkout)");
        }
    }

    @Test
    void helpListsTheNewFlags() {
        CliProcess.Result r = run(List.of("edit", "--help"));
        assertEquals(0, r.code());
        for (String f : new String[] {"--quality", "--max-pixels", "--max-memory", "--output-format"}) {
            assertTrue(r.out().contains(f), f + " in " + r.out());
        }
        assertTrue(Arrays.asList(r.out().split("\\s+")).contains("--seed=N"), r.out());
    }
}
