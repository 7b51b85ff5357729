package org.cyclediffusion.onnx;

import static org.cyclediffusion.core.testing.TensorAssert.assertAllClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxJavaType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.pipeline.CycleDiffusionPipeline;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.io.HalfFloats;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.LatentDistribution;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exporter conventions of the fixtures README §3 table, each built from {@code tiny-sd-onnx} by
 * an edit of its graph's interface (the networks inside are unchanged, so the goldens apply).
 */
class OrtExportVariantsTest {
    /** Measured: ≤ 1.6e-5 (VAE encoder mean), ≤ 1.9e-6 (UNet), ≤ 1.4e-6 (text encoder); the bound is ~3× the largest. */
    private static final double ATOL = 5e-5;

    @TempDir
    Path dir;

    private Models open(Path folder, DType dtype) {
        return new OrtBackendProvider().open(ModelFolder.open(folder), Device.CPU, dtype);
    }

    @Test
    void int32InputIdsAsTheDiffusersScriptExports() {
        OrtTestExports.replace(OrtTestExports.linkedCopy(dir), "text_encoder", g -> g
                .replaceInput("input_ids", OrtTestExports.INT32, "batch", "sequence")
                .renameNodeInputs("input_ids", "input_ids_int64")
                .prependNode("Cast", List.of("input_ids"), List.of("input_ids_int64"), "to", OrtTestExports.INT64));
        try (Models m = open(dir, DType.FLOAT32); Golden g = Golden.open("text_encoder_tiny_sd")) {
            assertEquals(OnnxJavaType.INT32, ((OrtTextEncoder) m.textEncoder()).idType());
            long[][] ids = ids(g);
            assertAllClose(m.textEncoder().encode(ids, 0), g.f32("last_hidden_state"), 0, ATOL, "int32 ids: last_hidden_state");
            assertAllClose(m.textEncoder().encode(ids, 1), g.f32("clip_skip1"), 0, ATOL, "int32 ids: clip_skip1");
        }
    }

    @Test
    void int64TimestepOfLengthStepsAsOptimum123Exports() {
        OrtTestExports.replace(OrtTestExports.linkedCopy(dir), "unet", g -> g
                .replaceInput("timestep", OrtTestExports.INT64, "steps")
                .renameNodeInputs("timestep", "timestep_scalar")
                .prependNode("Cast", List.of("timestep"), List.of("timestep_float"), "to", OrtTestExports.FLOAT)
                .prependNode("ReduceMax", List.of("timestep_float"), List.of("timestep_scalar"), "keepdims", 0));
        assertUNetMatchesGolden(dir, DType.FLOAT32);
    }

    @Test
    void float32TimestepPerBatchRowAsTheDiffusersScriptExports() {
        OrtTestExports.replace(OrtTestExports.linkedCopy(dir), "unet", g -> g
                .replaceInput("timestep", OrtTestExports.FLOAT, "batch")
                .renameNodeInputs("timestep", "timestep_scalar")
                .prependNode("ReduceMax", List.of("timestep"), List.of("timestep_scalar"), "keepdims", 0));
        assertUNetMatchesGolden(dir, DType.FLOAT32);
    }

    @Test
    void unetWeightsInExternalDataBesideTheModel() throws IOException {
        OrtTestExports.externalize(OrtTestExports.linkedCopy(dir), "unet", "weights.pb");
        assertTrue(Files.size(dir.resolve("unet/model.onnx")) < 3_000_000, "the weights moved out of unet/model.onnx (10.3 MB before)");
        assertTrue(Files.size(dir.resolve("unet/weights.pb")) > 5_000_000, "unet/weights.pb holds them");
        assertUNetMatchesGolden(dir, DType.FLOAT32);
    }

    @Test
    void textEncoderWithExternalDataKeepsClipSkip() throws IOException {
        // Clip skip opens an edited copy from memory: external data must still be found beside the original file,
        // and the final layer norm read from it.
        OrtTestExports.externalize(OrtTestExports.linkedCopy(dir), "text_encoder", "model.onnx_data");
        assertTrue(Files.size(dir.resolve("text_encoder/model.onnx")) < 1_000_000);
        try (Models m = open(dir, DType.FLOAT32); Golden g = Golden.open("text_encoder_tiny_sd")) {
            long[][] ids = ids(g);
            assertAllClose(m.textEncoder().encode(ids, 0), g.f32("last_hidden_state"), 0, ATOL, "external data: last_hidden_state");
            assertAllClose(m.textEncoder().encode(ids, 1), g.f32("clip_skip1"), 0, ATOL, "external data: clip_skip1");
            assertAllClose(m.textEncoder().encode(ids, 2), g.f32("clip_skip2"), 0, ATOL, "external data: clip_skip2");
        }
    }

    @Test
    void latentSampledInTheGraphBecomesAZeroVarianceDistribution() {
        // Stand-in for a graph that samples: its latent_sample is the mean half of the moments (a real one would add
        // ONNX Runtime's own noise); what we test is how the backend hands such an output to the pipeline.
        OrtTestExports.replace(OrtTestExports.linkedCopy(dir), "vae_encoder", g -> g
                .appendNode("Split", List.of("latent_parameters"), List.of("latent_sample", "latent_logvar_unused"), "axis", 1)
                .replaceOutput("latent_parameters", "latent_sample", OrtTestExports.FLOAT, "batch", 4, "h", "w"));
        try (Models m = open(dir, DType.FLOAT32); Golden g = Golden.open("vae_tiny_sd")) {
            assertTrue(((OrtVae) m.vae()).sampledInGraph());
            LatentDistribution d = m.vae().encode(g.f32("enc_img_a_input"));
            assertAllClose(d.mean(), g.f32("enc_img_a_mean"), 0, ATOL, "latent_sample as the mean");
            for (float lv : d.logvar().data()) {
                assertEquals(Float.NEGATIVE_INFINITY, lv);
            }
            int[] draws = {0};
            FloatTensor sample = d.sample(shape -> {
                draws[0]++;
                FloatTensor ones = FloatTensor.zeros(shape);
                java.util.Arrays.fill(ones.data(), 1f);
                return ones;
            });
            assertEquals(1, draws[0], "the pipeline's random draw still happens, so later draws stay aligned with diffusers'");
            assertArrayEquals(d.mean().data(), sample.data(), "std 0: the sample is the graph's sample");
        }
    }

    @Test
    void float16ExportConvertsAtTheBoundary() {
        // fp16 inputs and output around the fixture's fp32 network: the conversion at the boundary is what is tested.
        OrtTestExports.float16UNet(OrtTestExports.linkedCopy(dir));

        ConfigException e = assertThrows(ConfigException.class, () -> open(dir, DType.FLOAT32));
        assertTrue(e.getMessage().contains("computes in fp16") && e.getMessage().contains("--dtype fp16"), e.getMessage());

        Path fp32 = Fixtures.model("tiny-sd-onnx");
        try (Models half = open(dir, DType.FLOAT16); Models full = open(fp32, DType.FLOAT32); Golden g = Golden.open("unet_tiny_sd")) {
            assertEquals("onnx cpu fp16", half.description());
            for (int i = 0; i < 4; i++) {
                FloatTensor sample = roundToHalf(g.f32("case" + i + "_sample"));
                FloatTensor hidden = roundToHalf(g.f32("case" + i + "_encoder_hidden_states"));
                long t = g.i64("case" + i + "_timestep")[0]; // integers up to 2048 are exact in fp16
                FloatTensor expected = roundToHalf(predict(full.unet(), sample, hidden, t));
                FloatTensor actual = predict(half.unet(), g.f32("case" + i + "_sample"), g.f32("case" + i + "_encoder_hidden_states"), t);
                // the same fp32 network on the same (fp16-rounded) inputs: equal up to one fp16 rounding of the output
                assertAllClose(actual, expected, 0x1p-10, 1e-7, "fp16 boundary, case " + i);
            }
        }
    }

    @Test
    void defaultPrecisionFollowsTheExport() {
        // issue 10: an fp16 export runs in fp16 without --dtype; CUDA does not imply fp16 for an fp32 export.
        OrtTestExports.float16UNet(OrtTestExports.linkedCopy(dir));
        OrtBackendProvider provider = new OrtBackendProvider();
        assertEquals(DType.FLOAT16, provider.defaultDType(ModelFolder.open(dir), Device.CPU));
        assertEquals(DType.FLOAT16, provider.defaultDType(ModelFolder.open(dir), Device.parse("cuda")));
        assertEquals(DType.FLOAT32, provider.defaultDType(ModelFolder.open(Fixtures.model("tiny-sd-onnx")), Device.parse("cuda")));
        try (CycleDiffusionPipeline p = new PipelineLoader().load(PipelineLoader.Options.of(dir).withBackend("onnx").withSafetyChecker(false))) {
            assertEquals("onnx cpu fp16", p.models().description());
        }
    }

    @Test
    void float16VaeDecoderConvertsAtTheBoundary() {
        OrtTestExports.replace(OrtTestExports.linkedCopy(dir), "vae_decoder", g -> g
                .replaceInput("latent_sample", OrtTestExports.FLOAT16, "batch", 4, "latent_height", "latent_width")
                .renameNodeInputs("latent_sample", "latent_f32")
                .prependNode("Cast", List.of("latent_sample"), List.of("latent_f32"), "to", OrtTestExports.FLOAT)
                .renameNodeOutputs("sample", "sample_f32")
                .appendNode("Cast", List.of("sample_f32"), List.of("sample"), "to", OrtTestExports.FLOAT16)
                .replaceOutput("sample", "sample", OrtTestExports.FLOAT16, "batch", 3, "height", "width"));
        try (Models half = open(dir, DType.FLOAT32); Models full = open(Fixtures.model("tiny-sd-onnx"), DType.FLOAT32);
                Golden g = Golden.open("vae_tiny_sd")) {
            FloatTensor z = g.f32("dec_z2_input");
            FloatTensor expected = roundToHalf(full.vae().decode(roundToHalf(z)));
            assertAllClose(half.vae().decode(z), expected, 0x1p-10, 1e-7, "fp16 decoder, batch of 2 (decoded one row at a time, as diffusers' ONNX pipelines do)");
        }
    }

    private static FloatTensor predict(UNet unet, FloatTensor sample, FloatTensor hidden, long t) {
        try (Conditioning c = unet.condition(hidden)) {
            return unet.predict(sample, t, c);
        }
    }

    private static FloatTensor roundToHalf(FloatTensor t) {
        float[] out = t.data().clone();
        for (int i = 0; i < out.length; i++) {
            out[i] = HalfFloats.halfToFloat(HalfFloats.floatToHalf(out[i]));
        }
        return new FloatTensor(out, t.shape());
    }

    private void assertUNetMatchesGolden(Path folder, DType dtype) {
        try (Models m = open(folder, dtype); Golden g = Golden.open("unet_tiny_sd")) {
            for (int i = 0; i < 4; i++) {
                FloatTensor out = predict(m.unet(), g.f32("case" + i + "_sample"), g.f32("case" + i + "_encoder_hidden_states"),
                        g.i64("case" + i + "_timestep")[0]);
                assertAllClose(out, g.f32("case" + i + "_out"), 0, ATOL, folder.getFileName() + " UNet case" + i);
            }
        }
    }

    private static long[][] ids(Golden g) {
        long[] flat = g.i64("input_ids");
        long[][] out = new long[4][77];
        for (int i = 0; i < 4; i++) {
            System.arraycopy(flat, i * 77, out[i], 0, 77);
        }
        return out;
    }
}
