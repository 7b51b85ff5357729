package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.cyclediffusion.core.image.ImageFiles;
import org.cyclediffusion.core.image.RgbImage;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.TensorAssert;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each visible golden case run through the command line exactly as its case file spells it
 * (`cli` in case_*.json), on both backends, with the safety checker on: the written files are the
 * images diffusers wrote (np ≤ 5e-3 max / 5e-4 mean, PNG within 2/255) and the flags are its flags.
 */
class CliParityTest {
    @TempDir
    Path tmp;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        String[] ids = {"v01_basic", "v02_no_cfg", "v03_cfg7p5_car", "v04_strength1_sgs2", "v05_strength0p3_50steps_eta1",
            "v06_reconstruction_cfg", "v07_nipp2_cfg_fixed", "v08_two_prompts_two_images", "v10_resize_lanczos_70x60", "v11_clip_skip1",
            "v12_sd2_vpred_fixed", "v13_doc2_100steps"};
        for (String id : ids) {
            out.add(Arguments.of(id, "libtorch"));
            JsonNode c = Golden.caseJson(id);
            // The ONNX export is of tiny-sd, traced at latent sides divisible by 4 (v10 is 8x7).
            if (c.get("model").asText().equals("tiny-sd") && !id.startsWith("v10")) {
                out.add(Arguments.of(id, "onnx"));
            }
        }
        return out.stream();
    }

    /** Splits the case's command line, honouring double quotes. */
    static List<String> words(String cli) {
        List<String> w = new ArrayList<>();
        Matcher m = Pattern.compile("\"([^\"]*)\"|(\\S+)").matcher(cli);
        while (m.find()) {
            w.add(m.group(1) != null ? m.group(1) : m.group(2));
        }
        return w;
    }

    private List<String> args(JsonNode c, String backend, Path output) {
        List<String> a = new ArrayList<>(List.of("edit"));
        List<String> w = words(c.get("cli").asText());
        for (int i = 0; i < w.size(); i++) {
            String word = w.get(i);
            if (word.equals("--model")) {
                String model = w.get(++i);
                a.add("--model");
                a.add(Fixtures.model(backend.equals("onnx") ? model + "-onnx" : model).toString());
            } else if (word.equals("--image")) {
                a.add("--image");
                a.add(Fixtures.image(w.get(++i)).toString());
            } else {
                a.add(word);
            }
        }
        a.addAll(List.of("--backend", backend, "--json", "--quiet", "--output", output.toString()));
        return a;
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void writesWhatDiffusersWrote(String id, String backend) throws IOException {
        JsonNode c = Golden.caseJson(id);
        try (Golden g = Golden.open("cycle_" + id)) {
            FloatTensor expected = g.f32("image_np");
            int n = expected.dim(0);
            JsonNode flags = g.json().get("nsfw_content_detected");

            // np: the float array diffusers returned.
            Path npy = tmp.resolve(id + ".npy");
            CliTest.Run r = CliTest.run(args(c, backend, npy).toArray(String[]::new));
            assertEquals(0, r.code(), r.err());
            FloatTensor actual = readNpy(npy);
            double[] stats = TensorAssert.diffStats(actual.data(), expected.data());
            System.out.printf("%s on %s: image_np max |d| %.3g, mean |d| %.3g%n", id, backend, stats[0], stats[1]);
            assertTrue(stats[0] <= 5e-3 && stats[1] <= 5e-4, id + " on " + backend + ": max " + stats[0] + ", mean " + stats[1]);
            JsonNode json = new ObjectMapper().readTree(r.out());
            boolean checked = !c.get("model").asText().equals("tiny-sd2");
            for (int i = 0; i < n; i++) {
                JsonNode nsfw = json.get("outputs").get(i).get("nsfw");
                if (checked) {
                    assertEquals(flags.get(i).asBoolean(), nsfw.asBoolean(), id + " image " + i + " nsfw flag");
                } else {
                    assertTrue(nsfw.isNull(), "tiny-sd2 declares no safety checker");
                }
            }

            // png: 8-bit images within 2/255 of diffusers' PNGs.
            Path png = tmp.resolve(id + ".png");
            CliTest.Run p = CliTest.run(args(c, backend, png).stream().map(s -> s.equals("np") ? "pil" : s).toArray(String[]::new));
            assertEquals(0, p.code(), p.err());
            for (int i = 0; i < n; i++) {
                Path written = n == 1 ? png : tmp.resolve(id + "-" + i + ".png");
                RgbImage got = ImageFiles.read(written);
                RgbImage want = ImageFiles.read(Fixtures.golden("cycle_" + id + "_" + i + ".png"));
                int worst = 0;
                for (int k = 0; k < want.rgb().length; k++) {
                    worst = Math.max(worst, Math.abs((got.rgb()[k] & 0xff) - (want.rgb()[k] & 0xff)));
                }
                assertTrue(worst <= 2, id + " image " + i + " on " + backend + ": PNG differs by " + worst + "/255");
            }
        }
    }

    static FloatTensor readNpy(Path p) throws IOException {
        byte[] b = Files.readAllBytes(p);
        int headerLen = (b[8] & 0xff) | (b[9] & 0xff) << 8;
        String header = new String(b, 10, headerLen, java.nio.charset.StandardCharsets.ISO_8859_1);
        Matcher m = Pattern.compile("'shape': \\(([^)]*)\\)").matcher(header);
        assertTrue(m.find(), header);
        int[] shape = Stream.of(m.group(1).split(",")).map(String::trim).filter(s -> !s.isEmpty()).mapToInt(Integer::parseInt).toArray();
        ByteBuffer bb = ByteBuffer.wrap(b, 10 + headerLen, b.length - 10 - headerLen).order(ByteOrder.LITTLE_ENDIAN);
        float[] data = new float[(b.length - 10 - headerLen) / 4];
        bb.asFloatBuffer().get(data);
        return new FloatTensor(data, shape);
    }
}
