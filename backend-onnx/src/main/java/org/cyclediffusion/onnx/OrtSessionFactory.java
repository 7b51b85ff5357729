package org.cyclediffusion.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.spi.Device;

/**
 * Creates ONNX Runtime sessions for one device: on the CPU with one intra-op thread per core and
 * every graph optimisation ({@code ORT_ENABLE_ALL}); on CUDA through the CUDA execution provider,
 * which only the {@code onnxruntime_gpu} artifact ships.
 */
final class OrtSessionFactory {
    /** The artifact that carries the CUDA execution provider. */
    static final String GPU_ARTIFACT = "com.microsoft.onnxruntime:onnxruntime_gpu";

    private final Device device;
    private final int intraOpThreads;

    OrtSessionFactory(Device device) {
        this(device, Runtime.getRuntime().availableProcessors());
    }

    OrtSessionFactory(Device device, int intraOpThreads) {
        if (device.isCuda() && !cudaOnClassPath(OrtSessionFactory.class.getClassLoader())) {
            throw new CycleDiffusionException("device " + device + ": the onnx backend has no CUDA execution provider on the class path"
                    + " (the com.microsoft.onnxruntime:onnxruntime artifact is CPU-only); replace it with " + GPU_ARTIFACT
                    + ":${onnxruntime.version}, or run with --device cpu");
        }
        this.device = device;
        this.intraOpThreads = intraOpThreads;
    }

    Device device() {
        return device;
    }

    static OrtEnvironment environment() {
        return OrtEnvironment.getEnvironment();
    }

    /**
     * Whether the CUDA provider library is on the class path, judged from the jar resources ONNX
     * Runtime's loader would extract ({@code ai/onnxruntime/native/<os>-<arch>/}), or from the
     * folder named by {@code -Donnxruntime.native.path}; no native library is loaded.
     */
    static boolean cudaOnClassPath(ClassLoader loader) {
        String lib = System.mapLibraryName("onnxruntime_providers_cuda");
        String osArch = osArch();
        if (osArch != null && loader.getResource("ai/onnxruntime/native/" + osArch + "/" + lib) != null) {
            return true;
        }
        String nativePath = System.getProperty("onnxruntime.native.path");
        return nativePath != null && new File(nativePath, lib).isFile();
    }

    /** ONNX Runtime's name for this platform's native folder ({@code linux-x64}, {@code osx-aarch64}, ...). */
    private static String osArch() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("mac") || os.contains("darwin") ? "osx" : os.contains("win") ? "win" : os.contains("nux") ? "linux" : null;
        String a = arch.startsWith("amd64") || arch.startsWith("x86_64") ? "x64" : arch.startsWith("aarch64") ? "aarch64" : null;
        return o == null || a == null ? null : o + "-" + a;
    }

    /**
     * A session over a model file. Created from the path, not from bytes, so that ONNX Runtime finds
     * external data ({@code model.onnx_data}, {@code weights.pb}) beside the model.
     */
    OrtSession open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new CycleDiffusionException(file + ": file not found");
        }
        try (OrtSession.SessionOptions options = options(null)) {
            return environment().createSession(file.toString(), options);
        } catch (OrtException e) {
            if (e.getCode() == OrtException.OrtErrorCode.ORT_INVALID_PROTOBUF || e.getCode() == OrtException.OrtErrorCode.ORT_INVALID_GRAPH) {
                // the file, not the machine: a usage error naming it (exit 2 in the CLI)
                throw new ConfigException(file + ": not a valid ONNX model (truncated or damaged; ONNX Runtime says "
                        + e.getCode() + "); download or export it again", e);
            }
            throw new CycleDiffusionException(file + ": ONNX Runtime cannot load it: " + e.getMessage(), e);
        }
    }

    /**
     * A session over an edited copy of a model, held in a direct buffer; external data is looked up
     * in {@code externalDataFolder} (the folder of the original file).
     */
    OrtSession open(ByteBuffer model, Path externalDataFolder, String what) {
        try (OrtSession.SessionOptions options = options(externalDataFolder)) {
            return environment().createSession(model, options);
        } catch (OrtException e) {
            throw new CycleDiffusionException(what + ": ONNX Runtime cannot load it: " + e.getMessage(), e);
        }
    }

    private OrtSession.SessionOptions options(Path externalDataFolder) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        try {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            options.setIntraOpNumThreads(intraOpThreads);
            if (externalDataFolder != null) {
                options.addConfigEntry("session.model_external_initializers_file_folder_path", externalDataFolder.toString());
            }
            if (device.isCuda()) {
                options.addCUDA(device.index());
            }
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }
}
