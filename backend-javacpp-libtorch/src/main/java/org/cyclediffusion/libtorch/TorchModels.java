package org.cyclediffusion.libtorch;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Predicate;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.io.Closeables;
import org.cyclediffusion.core.spi.DType;
import org.cyclediffusion.core.spi.EditPhase;
import org.cyclediffusion.core.spi.Models;
import org.cyclediffusion.core.spi.SafetyModel;
import org.cyclediffusion.core.spi.TextEncoder;
import org.cyclediffusion.core.spi.UNet;
import org.cyclediffusion.core.spi.Vae;

/**
 * The networks of one diffusers folder on one device. Opening is exception-safe (what was loaded
 * before a failure is closed). The safety checker's network is loaded on first request, so a run
 * with the checker switched off never reads its files.
 */
final class TorchModels implements Models {
    private static final System.Logger LOG = System.getLogger(TorchModels.class.getName());
    /** Free C heap kept after a network for the next one to reuse ({@link NativeHeap#trimAbove}). */
    static final long KEPT_FREE_HEAP = 1L << 30;

    private final ModelFolder folder;
    private final TorchContext context;
    private final TorchTextEncoder textEncoder;
    private final TorchUNet unet;
    private final TorchVae vae;
    private Optional<SafetyModel> safety;
    private boolean closed;

    private TorchModels(ModelFolder folder, TorchContext context, TorchTextEncoder textEncoder, TorchUNet unet, TorchVae vae) {
        this.folder = folder;
        this.context = context;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
    }

    static TorchModels open(ModelFolder folder, TorchContext context) {
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            TorchTextEncoder te = add(opened, TorchTextEncoder.load(folder, context));
            TorchUNet unet = add(opened, TorchUNet.load(folder, context));
            TorchVae vae = add(opened, TorchVae.load(folder, context));
            return new TorchModels(folder, context, te, unet, vae);
        } catch (RuntimeException e) {
            Collections.reverse(opened);
            throw Closeables.closeAfter(e, opened);
        }
    }

    private static <T extends AutoCloseable> T add(List<AutoCloseable> opened, T component) {
        opened.add(component);
        return component;
    }

    @Override
    public TextEncoder textEncoder() {
        return textEncoder;
    }

    @Override
    public UNet unet() {
        return unet;
    }

    @Override
    public Vae vae() {
        return vae;
    }

    /** {@code safety_checker/} when model_index.json declares one ({@code [null, null]} or absent: none). */
    @Override
    public synchronized Optional<SafetyModel> safetyModel() {
        if (closed) {
            throw new CycleDiffusionException("libtorch models of " + folder + " are closed");
        }
        if (safety == null) {
            safety = folder.declared("safety_checker").isPresent()
                    ? Optional.of(TorchSafetyEmbedder.load(folder, context))
                    : Optional.empty();
        }
        return safety;
    }

    /**
     * Float32 weights on the CPU are views of their files' mappings: their resident pages are
     * dropped (see {@link ResidentPages}); copied weights (other dtypes, CUDA) are kept. The C heap's
     * free memory goes back to the system too ({@link NativeHeap#trim}): what this network freed is
     * not what the next one allocates, but up to {@link #KEPT_FREE_HEAP} of it is kept for the next
     * network to reuse (as the launcher's {@code trim_threshold} keeps that much at the heap's top).
     */
    @Override
    public void releaseResidentWeights(EditPhase phase) {
        TorchComponent component;
        Predicate<String> names = name -> true;
        switch (phase) {
            case ENCODING_PROMPT -> component = textEncoder;
            case ENCODING_IMAGE -> {
                component = vae;
                names = TorchVae::isEncoderWeight;
            }
            case DENOISING -> component = unet;
            case DECODING -> {
                component = vae;
                names = TorchVae::isDecoderWeight;
            }
            case SAFETY_CHECK -> component = loadedSafetyEmbedder();
            default -> throw new AssertionError(phase);
        }
        if (component != null) {
            long bytes = component.releaseResidentWeights(names);
            long free = LOG.isLoggable(System.Logger.Level.DEBUG) ? NativeHeap.freeBytes() : 0;
            boolean trimmed = NativeHeap.trimAbove(KEPT_FREE_HEAP);
            LOG.log(System.Logger.Level.DEBUG, () -> String.format(Locale.ROOT, "after %s: released the resident pages of %.1f MiB of %s weights;"
                    + " %.1f MiB free in the C heap, %s", phase.description(), bytes / 1048576.0, component.name(), free / 1048576.0,
                    trimmed ? "trimmed" : "kept for reuse"));
        }
    }

    /** The safety checker's network if it was loaded (null otherwise: releasing it must not load it). */
    private synchronized TorchComponent loadedSafetyEmbedder() {
        return safety != null && !closed && safety.orElse(null) instanceof TorchSafetyEmbedder e ? e : null;
    }

    @Override
    public String description() {
        String d = "libtorch " + context;
        return vae.context().dtype() != context.dtype() ? d + " (VAE " + DType.FLOAT32.shortName() + ")" : d;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Closeables.closeAll(textEncoder, unet, vae, safety == null ? null : safety.orElse(null));
    }
}
