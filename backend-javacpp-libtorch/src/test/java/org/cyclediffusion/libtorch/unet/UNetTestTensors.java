package org.cyclediffusion.libtorch.unet;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.tensor.FloatTensor;
import org.cyclediffusion.libtorch.TorchNatives;

/**
 * Test-only bridges between host {@link FloatTensor}s and LibTorch tensors, and a plain loader of
 * a safetensors file into float32 CPU tensors (the backend's real loader belongs to the backend;
 * these tests only need the state dict). Every returned tensor is the caller's to close.
 *
 * <p>Loads the natives through {@link TorchNatives} before any LibTorch class is initialised: left
 * to JavaCPP's own loading, a first run on a machine with a system LibTorch (Debian's
 * {@code libtorch-dev}) crashes the JVM (see {@link TorchNatives}).
 */
final class UNetTestTensors {
    static {
        TorchNatives.load();
    }

    private UNetTestTensors() {
    }

    /** A float32 CPU tensor owning a copy of {@code t}. */
    static Tensor toTorch(FloatTensor t) {
        long[] shape = new long[t.rank()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.dim(i);
        }
        try (FloatPointer data = new FloatPointer(t.data());
                TensorOptions f32 = new TensorOptions(torch.ScalarType.Float);
                Tensor view = torch.from_blob(data, shape, f32)) {
            return view.clone(); // owns its storage; the pointer is freed with this block
        }
    }

    /** A host copy of {@code t} (any device, any floating dtype) as float32. */
    static FloatTensor toHost(Tensor t) {
        int[] shape = new int[(int) t.dim()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = Math.toIntExact(t.size(i));
        }
        float[] out = new float[Math.toIntExact(t.numel())];
        try (Device host = new Device("cpu");
                Tensor converted = t.to(host, torch.ScalarType.Float);
                Tensor cpu = converted.contiguous();
                FloatPointer p = cpu.data_ptr_float()) {
            p.get(out);
        }
        return new FloatTensor(out, shape);
    }

    /** Every tensor of a safetensors file, converted to float32 on the CPU, in file order. */
    static Map<String, Tensor> load(Path file) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (String name : st.tensors().keySet()) {
                out.put(name, toTorch(st.floatTensor(name)));
            }
        }
        return out;
    }

    static void closeAll(Map<String, Tensor> tensors) {
        for (Tensor t : tensors.values()) {
            t.close();
        }
        tensors.clear();
    }
}
