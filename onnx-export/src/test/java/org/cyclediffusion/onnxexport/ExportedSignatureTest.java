package org.cyclediffusion.onnxexport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The exported networks declare the signature of optimum's export (the fixture {@code tiny-sd-onnx},
 * traced by torch.onnx from the same weights): the same input and output names, element types and
 * shapes (-1 where an axis is dynamic), as ONNX Runtime reads them (the safety checker: diffusers'
 * export script's, as in the fixture); and the folder has optimum's layout.
 */
class ExportedSignatureTest {
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"text_encoder", "unet", "vae_encoder", "vae_decoder", "safety_checker"})
    void signatureIsOptimums(String component) throws OrtException {
        Path exported = TinyExports.of("tiny-sd").resolve(component).resolve("model.onnx");
        Path traced = Fixtures.model("tiny-sd-onnx").resolve(component).resolve("model.onnx");
        assertEquals(signature(traced), signature(exported), component);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-sd", "tiny-sd2"})
    void folderHasOptimumsLayout(String model) throws IOException {
        Path dir = TinyExports.of(model);
        for (String f : new String[] {"model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json", "text_encoder/config.json",
                "unet/config.json", "vae_encoder/config.json", "vae_decoder/config.json", "feature_extractor/preprocessor_config.json"}) {
            assertTrue(Files.isRegularFile(dir.resolve(f)), f);
        }
        assertTrue(Files.size(dir.resolve("unet").resolve(OnnxGraph.EXTERNAL_DATA)) > 0);
        // tiny-sd has a checker, exported as diffusers' ONNX pipeline declares it; tiny-sd2 has none
        String index = Files.readString(dir.resolve("model_index.json")).replaceAll("\\s", "");
        boolean checker = model.equals("tiny-sd");
        assertEquals(checker, Files.isRegularFile(dir.resolve("safety_checker/model.onnx")));
        assertTrue(index.contains(checker ? "\"safety_checker\":[\"diffusers\",\"OnnxRuntimeModel\"]" : "\"safety_checker\":[null,null]"), index);
    }

    private static Map<String, String> signature(Path model) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            try (OrtSession s = env.createSession(model.toString(), o)) {
                Map<String, String> sig = new LinkedHashMap<>();
                s.getInputInfo().forEach((name, info) -> sig.put("in " + name, describe(info)));
                s.getOutputInfo().forEach((name, info) -> sig.put("out " + name, describe(info)));
                return sig;
            }
        }
    }

    private static String describe(NodeInfo info) {
        TensorInfo t = (TensorInfo) info.getInfo();
        return t.type + " " + Arrays.toString(t.getShape());
    }
}
