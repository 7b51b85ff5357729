package org.cyclediffusion.core.spi;

import java.util.List;
import java.util.Optional;
import org.cyclediffusion.core.config.ModelFolder;

/**
 * A backend, discovered with {@link java.util.ServiceLoader} (through its plug-in's Guice module).
 *
 * <p>Discovery must stay cheap: constructing a provider, {@link #name()}, {@link #devices()} and
 * {@link #canOpen(ModelFolder)} never load native libraries; {@link #open} does the heavy work.
 */
public interface BackendProvider {
    /** Short name users type: {@code onnx}, {@code libtorch}. */
    String name();

    /** Device types this build can run on (what is on the class path), e.g. {@code [cpu]} or {@code [cpu, cuda]}. */
    List<String> devices();

    /** Whether the folder holds weights in this backend's format (file checks only). */
    boolean canOpen(ModelFolder folder);

    /** Default precision for a device (fp16 on CUDA, fp32 on CPU for most backends). */
    default DType defaultDType(Device device) {
        return device.isCuda() ? DType.FLOAT16 : DType.FLOAT32;
    }

    /**
     * Default precision for this folder on a device, when the user asked for none. A backend whose
     * precision is fixed by its files (an ONNX export) reads it from them; by default
     * {@link #defaultDType(Device)}. Cheap: reads at most a file's header, loads no weights.
     */
    default DType defaultDType(ModelFolder folder, Device device) {
        return defaultDType(device);
    }

    /**
     * Whether the UNets this backend opens honour {@link UNet#setAttentionSlicing}: known before
     * loading, so that a pre-run memory estimate counts slicing only where it will happen.
     */
    default boolean supportsAttentionSlicing() {
        return false;
    }

    /**
     * The measurement behind {@code --dtype auto} for this folder on a device, or empty when the
     * precision is not this backend's to choose (auto then means {@link #defaultDType(ModelFolder, Device)}).
     * Cheap to call: the probe loads its network on first {@link PrecisionProbe#run}.
     */
    default Optional<PrecisionProbe> precisionProbe(ModelFolder folder, Device device) {
        return Optional.empty();
    }

    /**
     * Loads the networks of a model folder. Exception-safe: what was opened before a failure is
     * closed before the exception leaves.
     */
    Models open(ModelFolder folder, Device device, DType dtype);
}
