package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.spi.SafetyClassifier;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * {@code safety_checker/model.onnx} as diffusers' export script writes it (the traced
 * {@code StableDiffusionSafetyChecker.forward_onnx}): {@code clip_input} [1, 3, 224, 224] and
 * {@code images} [1, H, W, 3] → {@code out_images}, {@code has_nsfw_concepts} [1] (bool).
 *
 * <p>Only batch 1 runs: the masked assignment that blacks out flagged images was traced with one
 * image, and ONNX Runtime fails in its {@code Where} node for two. diffusers'
 * {@code OnnxStableDiffusionPipeline} therefore calls the model once per image; so do we.
 */
final class OrtSafetyClassifier implements SafetyClassifier {
    static final List<OrtSignature> SIGNATURES = List.of(new OrtSignature("",
            List.of(OrtPort.of("clip_input", OrtElementType.FLOATS, 4), OrtPort.of("images", OrtElementType.FLOATS, 4)),
            List.of(OrtPort.of("out_images", OrtElementType.FLOATS, 4), OrtPort.of("has_nsfw_concepts", EnumSet.of(OnnxJavaType.BOOL), 1))));

    private final OrtNetwork network;

    private OrtSafetyClassifier(OrtNetwork network) {
        this.network = network;
    }

    static OrtSafetyClassifier open(OrtSessionFactory factory, Path file) {
        return new OrtSafetyClassifier(OrtNetwork.open(factory, file, "safety checker", SIGNATURES));
    }

    @Override
    public boolean[] flags(FloatTensor clipInput, FloatTensor imagesNhwc) {
        network.ensureOpen();
        if (clipInput.rank() != 4 || clipInput.dim(1) != 3 || imagesNhwc.rank() != 4 || imagesNhwc.dim(3) != 3
                || clipInput.dim(0) != imagesNhwc.dim(0)) {
            throw new CycleDiffusionException(network.file() + ": expected clip_input [B, 3, 224, 224] and images [B, H, W, 3] with the"
                    + " same B, found " + Arrays.toString(clipInput.shape()) + " and " + Arrays.toString(imagesNhwc.shape()));
        }
        boolean[] flags = new boolean[clipInput.dim(0)];
        for (int i = 0; i < flags.length; i++) {
            try (OnnxTensor clip = OrtTensors.floats(clipInput.row(i), network.input("clip_input").type);
                    OnnxTensor images = OrtTensors.floats(imagesNhwc.row(i), network.input("images").type);
                    OrtSession.Result r = network.run(Map.of("clip_input", clip, "images", images), Set.of("has_nsfw_concepts"))) {
                flags[i] = flag(r.get("has_nsfw_concepts").orElseThrow());
            }
        }
        return flags;
    }

    private boolean flag(OnnxValue value) {
        if (!(value instanceof OnnxTensor t) || t.getInfo().getNumElements() != 1) {
            throw new CycleDiffusionException(network.file() + ": has_nsfw_concepts should hold one flag per image, found " + value.getInfo());
        }
        ByteBuffer b = t.getByteBuffer();
        return b.get(0) != 0;
    }

    @Override
    public void close() {
        network.close();
    }
}
