package org.cyclediffusion.safety;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.conformance.BackendConformanceSuite;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.EditRequest;
import org.cyclediffusion.core.pipeline.EditResult;
import org.cyclediffusion.core.pipeline.LatentCode;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.testing.LogCapture;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.cyclediffusion.core.testing.GoldenCases;
import org.cyclediffusion.core.testing.TensorAssert;
import org.cyclediffusion.onnx.OrtLiveSessions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The checker policy through the real {@link PipelineLoader} and the ONNX backend: on when the
 * folder declares a checker and has its files; a load failure (with the way out in the message, and
 * every native session closed again) when it declares one whose files are missing; off with a
 * warning only when the caller asks; absent when the folder declares {@code [null, null]}.
 */
class SafetyPolicyLoaderTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String V05 = "v05_strength0p3_50steps_eta1";

    @TempDir
    Path tmp;

    /** What PipelineLoader logs, kept off the console. */
    private LogCapture log;

    @BeforeEach
    void captureLog() {
        log = LogCapture.of(PipelineLoader.class);
    }

    @AfterEach
    void releaseLog() {
        log.close();
    }

    private List<String> warnings() {
        return log.warnings();
    }

    /** A model folder in {@code tmp}: every file linked except {@code model_index.json} (copied) and those {@code skip} names. */
    private Path linkedCopy(String model, Predicate<Path> skip) throws IOException {
        Path src = Fixtures.model(model);
        try (var files = Files.walk(src)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Path rel = src.relativize(f);
                if (skip.test(rel)) {
                    continue;
                }
                Path dst = tmp.resolve(rel.toString());
                Files.createDirectories(dst.getParent());
                if (rel.toString().equals("model_index.json")) {
                    Files.copy(f, dst);
                } else {
                    Files.createSymbolicLink(dst, f.toAbsolutePath());
                }
            }
        }
        return tmp;
    }

    /**
     * tiny-sd-onnx in {@code tmp}: {@code safety_checker/} linked only when {@code withChecker}, and
     * {@code model_index.json} with the given checker entry and {@code requires_safety_checker}.
     */
    private Path onnxCopy(boolean withChecker, String library, String className, boolean requiresChecker) throws IOException {
        Path dir = linkedCopy("tiny-sd-onnx", rel -> !withChecker && rel.startsWith("safety_checker"));
        ObjectNode index = (ObjectNode) MAPPER.readTree(dir.resolve("model_index.json").toFile());
        index.putArray("safety_checker").add(library).add(className);
        index.put("requires_safety_checker", requiresChecker);
        Files.writeString(dir.resolve("model_index.json"), MAPPER.writeValueAsString(index));
        return dir;
    }

    /** (a) Declared, with safety_checker/model.onnx: on, and it flags v05 as diffusers does. */
    @Test
    void declaredAndPresentTurnsTheCheckerOn() {
        try (CycleDiffusionPipeline p = new PipelineLoader().load(PipelineLoader.Options.of(Fixtures.model("tiny-sd-onnx")))) {
            assertTrue(p.safetyChecker().isPresent());
            EditResult r = p.edit(GoldenCases.request(V05).build());
            assertEquals(List.of(true), r.verdicts().orElseThrow().stream().map(v -> v.nsfw()).toList());
        }
        assertEquals(List.of(), warnings());
    }

    /** (b) Declared, files missing (no folder, or an empty one): the load fails and closes what the backend opened. */
    @ParameterizedTest(name = "empty safety_checker/ folder: {0}")
    @ValueSource(booleans = {false, true})
    void declaredButMissingFailsAtLoadAndLeaksNoSession(boolean emptyFolder) throws IOException {
        Path dir = onnxCopy(false, "diffusers", "OnnxRuntimeModel", true);
        if (emptyFolder) {
            Files.createDirectories(dir.resolve("safety_checker"));
        }
        int before = OrtLiveSessions.count();
        ConfigException e = assertThrows(ConfigException.class,
                () -> new PipelineLoader().load(PipelineLoader.Options.of(dir)));
        String m = e.getMessage();
        assertTrue(m.contains("declares safety_checker [\"diffusers\", \"OnnxRuntimeModel\"]"), m);
        assertTrue(m.contains("neither model.safetensors nor model.onnx"), m);
        // how to get one ...
        assertTrue(m.contains("Copy safety_checker/") && m.contains("convert_stable_diffusion_checkpoint_to_onnx.py"), m);
        // ... or how to turn checking off
        assertTrue(m.contains("--no-safety-checker"), m);
        assertEquals(before, OrtLiveSessions.count(), "the ONNX sessions the backend had opened are closed again");
    }

    /** (c) Turned off by the caller: no checker, no verdicts, a warning; v05 comes out unfiltered. */
    @Test
    void turnedOffGivesNoVerdictsAndWarns() {
        Path model = Fixtures.model("tiny-sd-onnx");
        try (CycleDiffusionPipeline p = new PipelineLoader().load(PipelineLoader.Options.of(model).withSafetyChecker(false))) {
            assertFalse(p.safetyChecker().isPresent());
            List<String> w = warnings();
            assertEquals(1, w.size(), w.toString());
            assertTrue(w.get(0).contains("declares a safety checker and it is turned off") && w.get(0).contains("tiny-sd-onnx"), w.get(0));
            EditResult r = p.edit(GoldenCases.request(V05).build());
            assertTrue(r.verdicts().isEmpty());
            assertTrue(r.nsfwContentDetected().isEmpty());
            try (Golden g = Golden.open("cycle_" + V05)) {
                // diffusers flagged and blacked out this image; unchecked, it is the unfiltered decode.
                double[] d = TensorAssert.diffStats(r.imagesNp().data(), BackendConformanceSuite.nhwc01(g.f32("decoded")).data());
                System.out.printf(Locale.ROOT, "onnx unchecked %s vs unfiltered decode: max |d| %.3e mean %.3e%n", V05, d[0], d[1]);
                assertTrue(d[0] <= CheckedOutputs.IMAGE_MAX && d[1] <= CheckedOutputs.IMAGE_MEAN, d[0] + " " + d[1]);
            }
        }
    }

    /**
     * (d) Declared as [null, null] with requires_safety_checker false, as tiny-sd2 is: no checker even
     * though the ONNX checker file is there (the declaration decides), and nothing to warn about.
     */
    @Test
    void declaredNullGivesNoChecker() throws IOException {
        Path dir = onnxCopy(true, null, null, false);
        try (CycleDiffusionPipeline p = new PipelineLoader().load(PipelineLoader.Options.of(dir))) {
            assertFalse(p.safetyChecker().isPresent());
            assertTrue(p.models().safetyModel().isPresent(), "the backend loaded the file; the declaration decides");
            EditResult r = p.edit(GoldenCases.request("v01_basic").build());
            assertTrue(r.verdicts().isEmpty());
        }
        assertEquals(List.of(), warnings());
    }

    /**
     * [null, null] while requires_safety_checker is true: still no checker, but diffusers' pipeline
     * warns whenever it runs without one while requires_safety_checker is true; so do we.
     */
    @Test
    void declaredNullWhileRequiredWarns() throws IOException {
        Path dir = onnxCopy(false, null, null, true);
        try (CycleDiffusionPipeline p = new PipelineLoader().load(PipelineLoader.Options.of(dir))) {
            assertFalse(p.safetyChecker().isPresent());
        }
        List<String> w = warnings();
        assertEquals(1, w.size(), w.toString());
        assertTrue(w.get(0).contains("declares no safety_checker although requires_safety_checker is true"), w.get(0));
    }

    /**
     * (e) Loaded to encode only: a latent code holds no image, so the checker the folder declares is
     * neither opened nor warned about, even with its files missing (the folder of (b)); the code is
     * the one a fully loaded pipeline encodes, and edit and decode, which would make images no
     * checker saw, refuse to run.
     */
    @Test
    void anEncoderNeedsNoCheckerAndMakesNoImages() throws IOException {
        EditRequest request = GoldenCases.request("v01_basic").build();
        LatentCode expected;
        try (CycleDiffusionPipeline full = new PipelineLoader().load(PipelineLoader.Options.of(Fixtures.model("tiny-sd-onnx")))) {
            expected = full.encode(request.encodeRequest());
        }
        Path dir = onnxCopy(false, "diffusers", "OnnxRuntimeModel", true);
        int before = OrtLiveSessions.count();
        try (CycleDiffusionPipeline p = new PipelineLoader().loadEncoder(ModelFolder.open(dir), PipelineLoader.Options.of(dir))) {
            assertFalse(p.safetyChecker().isPresent());
            LatentCode code = p.encode(request.encodeRequest());
            assertArrayEquals(expected.startLatents().data(), code.startLatents().data());
            assertArrayEquals(expected.noises().data(), code.noises().data());
            IllegalStateException edit = assertThrows(IllegalStateException.class, () -> p.edit(request));
            assertTrue(edit.getMessage().startsWith("edit: this pipeline was loaded to encode only"), edit.getMessage());
            IllegalStateException decode = assertThrows(IllegalStateException.class, () -> p.decode(code, request.decodeRequest()));
            assertTrue(decode.getMessage().startsWith("decode: this pipeline was loaded to encode only"), decode.getMessage());
        }
        assertEquals(before, OrtLiveSessions.count(), "every session the encoder opened is closed");
        assertEquals(List.of(), warnings());
    }

    /** (b) on LibTorch: the checker's weights are there but its config.json is not; the load fails with the way out. */
    @Test
    void incompleteTorchCheckerFailsAtLoad() throws IOException {
        Path dir = linkedCopy("tiny-sd", rel -> rel.toString().equals("safety_checker/config.json"));
        ConfigException e = assertThrows(ConfigException.class, () -> new PipelineLoader().load(PipelineLoader.Options.of(dir)));
        String m = e.getMessage();
        assertTrue(m.contains("config.json") && m.contains("--no-safety-checker"), m);
    }

    /** (d) tiny-sd2 declares [null, null] and requires_safety_checker false: no checker on LibTorch, no warning; v12 unchanged. */
    @Test
    void tinySd2HasNoChecker() {
        String id = "v12_sd2_vpred_fixed";
        try (CycleDiffusionPipeline p = new PipelineLoader().load(PipelineLoader.Options.of(Fixtures.model("tiny-sd2")));
                Golden g = Golden.open("cycle_" + id)) {
            assertTrue(p.models().description().startsWith("libtorch"), p.models().description());
            assertFalse(p.safetyChecker().isPresent());
            assertTrue(p.models().safetyModel().isEmpty());
            EditResult r = p.edit(GoldenCases.request(id).build());
            assertTrue(r.verdicts().isEmpty());
            double[] d = TensorAssert.diffStats(r.imagesNp().data(), g.f32("image_np").data());
            System.out.printf(Locale.ROOT, "libtorch unchecked %s image_np max |d| %.3e mean %.3e%n", id, d[0], d[1]);
            assertTrue(d[0] <= CheckedOutputs.IMAGE_MAX && d[1] <= CheckedOutputs.IMAGE_MEAN, d[0] + " " + d[1]);
        }
        assertEquals(List.of(), warnings());
    }
}
