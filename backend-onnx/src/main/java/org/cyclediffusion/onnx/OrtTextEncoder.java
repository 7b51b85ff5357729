package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * {@code text_encoder/model.onnx}: {@code input_ids} (int64 in optimum's exports, int32 in the
 * diffusers script's) → {@code last_hidden_state}. Clip skip is prepared on first use
 * ({@link OrtClipSkip}).
 */
final class OrtTextEncoder implements TextEncoder {
    static final String INPUT = "input_ids";
    static final String OUTPUT = "last_hidden_state";
    static final List<OrtSignature> SIGNATURES = List.of(new OrtSignature("",
            List.of(OrtPort.of(INPUT, EnumSet.of(OnnxJavaType.INT64, OnnxJavaType.INT32), 2)),
            List.of(OrtPort.of(OUTPUT, OrtElementType.FLOATS, 3), OrtPort.of("pooler_output", OrtElementType.FLOATS, 2).asOptional())));

    private final OrtSessionFactory factory;
    private final OrtNetwork network;
    private final OnnxJavaType idType;
    private final long sequenceLength;
    private final int hiddenSize;
    private final int configLayers;
    private final double layerNormEps;
    private OrtClipSkip clipSkip;

    private OrtTextEncoder(OrtSessionFactory factory, OrtNetwork network, JsonConfig config) {
        this.factory = factory;
        this.network = network;
        this.idType = network.input(INPUT).type;
        this.sequenceLength = network.input(INPUT).getShape()[1];
        long declaredHidden = network.output(OUTPUT).getShape()[2];
        int configHidden = config == null ? -1 : config.getInt("hidden_size", -1);
        if (declaredHidden < 0 && configHidden < 0) {
            throw new CycleDiffusionException(network.file() + ": the hidden size is neither a static dimension of last_hidden_state"
                    + " nor given by text_encoder/config.json hidden_size");
        }
        this.hiddenSize = declaredHidden >= 0 ? (int) declaredHidden : configHidden;
        this.configLayers = config == null ? -1 : config.getInt("num_hidden_layers", -1);
        this.layerNormEps = config == null ? 1e-5 : config.getDouble("layer_norm_eps", 1e-5);
    }

    static OrtTextEncoder open(OrtSessionFactory factory, Path file, JsonConfig config) {
        OrtNetwork network = OrtNetwork.open(factory, file, "text encoder", SIGNATURES);
        try {
            return new OrtTextEncoder(factory, network, config);
        } catch (RuntimeException e) {
            network.close();
            throw e;
        }
    }

    OnnxJavaType idType() {
        return idType;
    }

    @Override
    public FloatTensor encode(long[][] ids, int clipSkip) {
        network.ensureOpen();
        if (ids.length == 0) {
            throw new IllegalArgumentException("encode: no token ids");
        }
        for (long[] row : ids) {
            if (row.length != ids[0].length || (sequenceLength >= 0 && row.length != sequenceLength)) {
                throw new CycleDiffusionException(network.file() + ": input_ids rows must all have "
                        + (sequenceLength >= 0 ? sequenceLength : ids[0].length) + " tokens, found a row of " + row.length);
            }
        }
        if (clipSkip < 0) {
            throw new IllegalArgumentException("clip skip " + clipSkip + ": expected >= 0");
        }
        try (OnnxTensor input = OrtTensors.ids(ids, idType)) {
            if (clipSkip == 0) {
                try (OrtSession.Result r = network.run(Map.of(INPUT, input), Set.of(OUTPUT))) {
                    return OrtTensors.toHost(r, OUTPUT);
                }
            }
            return clipSkip().encode(INPUT, input, clipSkip);
        }
    }

    /** Created on first use; under the same lock as {@link #close()}, so a close waits for a creation in progress. */
    private synchronized OrtClipSkip clipSkip() {
        network.ensureOpen();
        if (clipSkip == null) {
            clipSkip = OrtClipSkip.create(factory, network, SIGNATURES, configLayers, layerNormEps);
        }
        return clipSkip;
    }

    @Override
    public int hiddenSize() {
        return hiddenSize;
    }

    @Override
    public synchronized void close() {
        try {
            if (clipSkip != null) {
                clipSkip.close();
            }
        } finally {
            network.close();
        }
    }
}
