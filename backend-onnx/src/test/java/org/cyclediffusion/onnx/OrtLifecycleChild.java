package org.cyclediffusion.onnx;

import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.Conditioning;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.core.testing.Fixtures;

/**
 * The child JVM of {@link OrtProcessLifecycleTest}: what a command-line run does with the backend,
 * in a process the test can signal.
 * <ul>
 *   <li>{@code once}: open tiny-sd-onnx, run the UNet once, close, exit 0;</li>
 *   <li>{@code loop}: print {@code started}, then open, run and close models until killed;</li>
 *   <li>{@code loop-file FILE}: the same with sessions of one (larger) model file;</li>
 *   <li>{@code oom}: run the UNet on latents whose self-attention cannot be allocated, print the
 *       error message on stdout.</li>
 * </ul>
 */
public final class OrtLifecycleChild {
    private OrtLifecycleChild() {
    }

    public static void main(String[] args) {
        switch (args[0]) {
            case "once" -> {
                try (OrtModels m = open()) {
                    run(m, 8);
                }
                System.out.println("ok");
            }
            case "loop" -> {
                OrtRuntime.environment();
                System.out.println("started");
                System.out.flush();
                while (true) {
                    try (OrtModels m = open()) {
                        run(m, 8);
                    }
                }
            }
            case "loop-file" -> {
                // args[1]: a model file; its sessions are created and closed until the JVM is stopped
                OrtSessionFactory factory = new OrtSessionFactory(Device.CPU);
                OrtRuntime.environment();
                System.out.println("started");
                System.out.flush();
                while (true) {
                    try {
                        factory.open(java.nio.file.Path.of(args[1])).close();
                    } catch (ai.onnxruntime.OrtException e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            case "oom" -> {
                try (OrtModels m = open()) {
                    // 4000x4000 pixels: 500x500 latents, the attention over 250,000 positions needs 250 GB
                    run(m, 500);
                    System.out.println("no failure");
                } catch (CycleDiffusionException e) {
                    System.out.println("error: " + e.getMessage());
                }
            }
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    private static OrtModels open() {
        return OrtModels.open(ModelFolder.open(Fixtures.model("tiny-sd-onnx")), Device.CPU, DType.FLOAT32);
    }

    private static void run(OrtModels m, int side) {
        try (Conditioning c = m.unet().condition(FloatTensor.zeros(1, 77, 32))) {
            m.unet().predict(FloatTensor.zeros(1, 4, side, side), 500, c);
        }
    }
}
