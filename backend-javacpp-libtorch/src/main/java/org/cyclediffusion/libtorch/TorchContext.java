package org.cyclediffusion.libtorch;

import static org.bytedeco.pytorch.global.torch.cuda_device_count;
import static org.bytedeco.pytorch.global.torch.cuda_is_available;
import static org.bytedeco.pytorch.global.torch.from_blob;
import static org.bytedeco.pytorch.global.torch.get_num_threads;
import static org.bytedeco.pytorch.global.torch.set_num_threads;

import java.util.Arrays;
import java.util.function.Supplier;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.Device;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * Where and in what precision one set of networks runs, and the boundary with the host: uploads of
 * {@link FloatTensor}s, downloads back to float32, and the guard every forward pass runs under
 * (inference mode and one {@link PointerScope}, so every temporary tensor of a call is released
 * when it returns).
 */
final class TorchContext {
    private final Device device;
    private final DType dtype;
    private final ScalarType scalarType;

    private TorchContext(Device device, DType dtype) {
        this.device = device;
        this.dtype = dtype;
        this.scalarType = scalarType(dtype);
    }

    /**
     * Loads the natives and checks that the device can be used: a CUDA device needs the GPU build
     * of LibTorch on the class path and a visible GPU. On the CPU, intra-op threads = idle cores
     * ({@link CpuThreads}) unless {@code OMP_NUM_THREADS} is set.
     */
    static TorchContext open(Device device, DType dtype) {
        if (device.isCuda() && !TorchNatives.cudaNativesOnClassPath()) {
            throw new CycleDiffusionException("device " + device + ": the class path holds the CPU-only LibTorch natives "
                    + "(org.bytedeco:pytorch:" + "linux-x86_64); " + TorchBackendProvider.GPU_REQUIREMENTS);
        }
        TorchNatives.load();
        if (device.isCuda()) {
            if (!TorchNatives.cudaLoaded()) {
                throw new CycleDiffusionException("device " + device + ": the GPU build of LibTorch is on the class path but its CUDA"
                        + " library did not load (" + TorchNatives.cudaLoadFailure() + "); " + TorchBackendProvider.GPU_REQUIREMENTS);
            }
            if (!cuda_is_available()) {
                throw new CycleDiffusionException("device " + device + ": LibTorch sees no CUDA device (the GPU natives loaded, but no"
                        + " GPU or NVIDIA driver is visible to this process); " + TorchBackendProvider.GPU_REQUIREMENTS);
            }
            int count = cuda_device_count();
            if (device.index() >= count) {
                throw new CycleDiffusionException("device " + device + ": only " + count + " CUDA device(s) visible (cuda:0 to cuda:"
                        + (count - 1) + ")");
            }
        } else if (System.getenv("OMP_NUM_THREADS") == null) {
            // OMP_NUM_THREADS is torch's own knob (LibTorch's OpenMP pool starts with it): a user
            // who set it keeps it. Otherwise one thread per idle core (see CpuThreads: spinning
            // OpenMP threads on busy cores are ten times slower than one thread).
            int threads = CpuThreads.forLoad(Runtime.getRuntime().availableProcessors(), CpuThreads.loadAverage());
            if (get_num_threads() != threads) {
                set_num_threads(threads);
            }
        }
        return new TorchContext(device, dtype);
    }

    static ScalarType scalarType(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> ScalarType.Float;
            case FLOAT16 -> ScalarType.Half;
            case BFLOAT16 -> ScalarType.BFloat16;
        };
    }

    Device device() {
        return device;
    }

    DType dtype() {
        return dtype;
    }

    /**
     * A new native handle on this device, owned by the caller's {@link PointerScope}. A context
     * keeps none: one held for its lifetime (it has no {@code close()}) would be left for the garbage
     * collector, and JavaCPP's live-object count would then drop at random moments of later work.
     */
    org.bytedeco.pytorch.Device torchDevice() {
        return device.isCuda()
                ? new org.bytedeco.pytorch.Device(DeviceType.CUDA, (byte) device.index())
                : new org.bytedeco.pytorch.Device(DeviceType.CPU);
    }

    ScalarType scalarType() {
        return scalarType;
    }

    /** The same device in another precision (the VAE in float32 under {@code force_upcast}). */
    TorchContext withDType(DType other) {
        return other == dtype ? this : new TorchContext(device, other);
    }

    /**
     * Runs one unit of work (a forward pass) under inference mode, releasing every native object
     * it created except what it returns to the host (a Java value).
     */
    <T> T run(Supplier<T> body) {
        // The guard is created first so that it is not one of the scope's pointers; the scope closes first.
        try (InferenceMode guard = new InferenceMode(); PointerScope scope = new PointerScope()) {
            return body.get();
        } catch (RuntimeException e) {
            if (e instanceof CycleDiffusionException) {
                throw e;
            }
            // JavaCPP surfaces c10::Error as RuntimeException carrying LibTorch's message.
            throw new CycleDiffusionException("LibTorch " + device + " " + dtype.shortName() + ": " + firstLine(e.getMessage()), e);
        }
    }

    /** A host tensor on the device in this context's precision (a copy that owns its memory). */
    Tensor upload(FloatTensor host) {
        return upload(host, scalarType);
    }

    Tensor upload(FloatTensor host, ScalarType type) {
        long[] shape = Arrays.stream(host.shape()).asLongStream().toArray();
        FloatPointer data = new FloatPointer(host.data());
        Tensor view = from_blob(data, shape, new TensorOptions(ScalarType.Float));
        return view.to(torchDevice(), type, false, true, new MemoryFormatOptional());
    }

    /** Token ids as an int64 tensor [rows, cols] on the device. */
    Tensor uploadIds(long[][] ids) {
        int rows = ids.length;
        int cols = rows == 0 ? 0 : ids[0].length;
        long[] flat = new long[rows * cols];
        for (int i = 0; i < rows; i++) {
            if (ids[i].length != cols) {
                throw new CycleDiffusionException("token ids: row " + i + " has " + ids[i].length + " ids, row 0 has " + cols);
            }
            System.arraycopy(ids[i], 0, flat, i * cols, cols);
        }
        LongPointer data = new LongPointer(flat);
        Tensor view = from_blob(data, new long[] {rows, cols}, new TensorOptions(ScalarType.Long));
        return view.to(torchDevice(), ScalarType.Long, false, true, new MemoryFormatOptional());
    }

    /** Any device tensor back to a float32 host tensor (the only host sync of a forward pass). */
    static FloatTensor download(Tensor t) {
        Tensor host = t.to(new org.bytedeco.pytorch.Device(DeviceType.CPU), ScalarType.Float, false, false, new MemoryFormatOptional())
                .contiguous();
        long[] s = host.shape();
        int[] shape = new int[s.length];
        for (int i = 0; i < s.length; i++) {
            shape[i] = Math.toIntExact(s[i]);
        }
        float[] out = new float[Math.toIntExact(host.numel())];
        new FloatPointer(host.data_ptr()).get(out);
        return new FloatTensor(out, shape);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    @Override
    public String toString() {
        return device + " " + dtype.shortName();
    }
}
