package org.cyclediffusion.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import java.nio.file.Path;
import org.cyclediffusion.core.spi.Device;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Session settings that are not visible in a session's results: every session, whether it optimises
 * a graph (and writes it to the cache), loads a cached one or opens an edited copy, is created with
 * ONNX Runtime's weight packing off. Packing copied every GEMM weight of a full-size UNet into fresh
 * memory at each start for a 1 % faster step (README "ONNX Runtime").
 */
class OrtSessionFactoryTest {
    @TempDir
    Path dir;

    @Test
    void everySessionIsCreatedWithoutPackedWeightCopies() throws OrtException {
        OrtSessionFactory f = new OrtSessionFactory(Device.CPU, OrtSessionFactory.Tuning.defaults(), OrtModelCache.at(dir));
        Object[][] cases = {{OptLevel.ALL_OPT, dir.resolve("model.onnx"), null}, {OptLevel.NO_OPT, null, null}, {OptLevel.ALL_OPT, null, dir}};
        for (Object[] c : cases) {
            try (OrtSession.SessionOptions o = f.options((OptLevel) c[0], (Path) c[1], (Path) c[2])) {
                assertEquals("1", o.getConfigEntries().get(OrtSessionFactory.DISABLE_PREPACKING), "packing off for " + c[0] + ", cache file "
                        + c[1] + ", external data " + c[2] + ": " + o.getConfigEntries());
            }
        }
    }
}
