package org.cyclediffusion.core.checkpoint;

import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Path;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.SafetensorsFile.TensorInfo;
import org.cyclediffusion.core.io.SafetensorsWriter;

/** Checkpoints derived from the single-file fixtures, for cases no fixture has (an EMA copy of the UNet). */
final class CheckpointTestFiles {
    private CheckpointTestFiles() {
    }

    /**
     * {@code src} plus, for every UNet tensor but {@code skip}, an fp32 EMA copy scaled by
     * {@code scale} under LitEma's flat name ({@code model_ema.diffusion_model...} without dots).
     */
    static void withEma(Path src, Path out, float scale, String skip) {
        try (SafetensorsFile st = SafetensorsFile.open(src)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (TensorInfo t : st.tensors().values()) {
                w.add(t.name(), t.dtype(), t.shape(), o -> Channels.newChannel(o).write(st.buffer(t.name())));
            }
            for (TensorInfo t : st.tensors().values()) {
                if (t.name().startsWith("model.diffusion_model.") && !t.name().equals(skip)) {
                    String flat = "model_ema." + t.name().substring("model.".length()).replace(".", "");
                    float[] v = st.floatTensor(t.name()).data();
                    w.add(flat, SafetensorsDType.F32, t.shape(), o -> {
                        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                        for (float x : v) {
                            b.putFloat(x * scale);
                        }
                        o.write(b.array());
                    });
                }
            }
            w.write(out);
        }
    }
}
