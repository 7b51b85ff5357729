package org.cyclediffusion.onnxexport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.onnx.OrtBackendProvider;
import org.junit.jupiter.api.Test;

/**
 * The same component parity suite on the export written with standard ONNX operators only
 * ({@code contribAttention} off): the UNet's attention as MatMul/Softmax/Transpose nodes, which any
 * ONNX runtime reads. Also checks which of the two exports uses ONNX Runtime's contrib domain.
 */
class ExportedStandardOpsConformanceTest extends ExportedConformanceTest {
    @Override
    protected Models open(String fixtureModel) {
        return new OrtBackendProvider().open(ModelFolder.open(TinyExports.standardOps(fixtureModel)), Device.CPU, DType.FLOAT32);
    }

    @Test
    void onlyTheDefaultExportUsesTheContribDomain() throws IOException {
        // tiny-sd's UNet: two cross-attention down blocks of 2 layers, the mid block, two cross-attention
        // up blocks of 3 layers: 11 transformer blocks of a self- and a cross-attention
        Path contrib = TinyExports.of("tiny-sd").resolve("unet/model.onnx");
        Path standard = TinyExports.standardOps("tiny-sd").resolve("unet/model.onnx");
        assertEquals(22, count(contrib, NODE_OP_TYPE, "MultiHeadAttention"));
        assertEquals(22, count(contrib, NODE_DOMAIN, OnnxGraph.MS_DOMAIN));
        assertEquals(1, count(contrib, OPSET_DOMAIN, OnnxGraph.MS_DOMAIN));
        assertEquals(0, count(standard, NODE_OP_TYPE, "MultiHeadAttention"));
        assertEquals(0, count(standard, NODE_DOMAIN, OnnxGraph.MS_DOMAIN) + count(standard, OPSET_DOMAIN, OnnxGraph.MS_DOMAIN));
        assertEquals(22, count(standard, NODE_OP_TYPE, "Softmax"));
        // CLIP's attention is masked and query-scaled, so it stays in standard operators, as do the VAE's and the checker's
        for (String component : new String[] {"text_encoder", "vae_encoder", "vae_decoder", "safety_checker"}) {
            assertEquals(0, count(TinyExports.of("tiny-sd").resolve(component).resolve("model.onnx"), OPSET_DOMAIN, OnnxGraph.MS_DOMAIN),
                    component);
        }
    }

    /** Protobuf tags (field number << 3 | 2) of NodeProto.op_type, NodeProto.domain and OperatorSetIdProto.domain. */
    private static final int NODE_OP_TYPE = 4 << 3 | 2;
    private static final int NODE_DOMAIN = 7 << 3 | 2;
    private static final int OPSET_DOMAIN = 1 << 3 | 2;

    /** Occurrences of a string field: its tag, its length (one byte: short strings) and its bytes. */
    private static int count(Path file, int tag, String value) throws IOException {
        String text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        String field = "" + (char) tag + (char) value.length() + value;
        int n = 0;
        for (int i = text.indexOf(field); i >= 0; i = text.indexOf(field, i + 1)) {
            n++;
        }
        return n;
    }
}
