package org.cyclediffusion.core.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a model folder holds, in words, for the error a user gets when no backend can load it:
 * what is there, what is missing and what to do. Pickle weights ({@code *.bin}) get the same
 * explanation wherever they are found.
 */
public final class ModelFolderContents {
    private static final int MAX_LISTED = 12;

    private ModelFolderContents() {
    }

    /** Why no backend recognises {@code folder}: the UNet weights each backend needs are missing. */
    public static String whyUnrecognised(ModelFolder folder) {
        Path unet = folder.component("unet");
        String pickle = pickleWeights(folder, "unet");
        if (pickle != null) {
            return pickle;
        }
        String missing = Files.isDirectory(unet)
                ? "unet/ has no weights the backends load (onnx needs unet/model.onnx, libtorch needs unet/diffusion_pytorch_model.safetensors)"
                : "it has no unet/ folder (onnx needs unet/model.onnx, libtorch needs unet/diffusion_pytorch_model.safetensors)";
        return folder + ": " + missing + "; found " + listing(folder) + ". The folder is incomplete: download the whole model"
                + " (e.g. huggingface-cli download ORG/NAME --local-dir DIR) or use a complete diffusers or optimum ONNX folder";
    }

    /**
     * The explanation for pickle weights in a component ({@code diffusion_pytorch_model.bin},
     * {@code pytorch_model.bin}), or null when there are none.
     */
    public static String pickleWeights(ModelFolder folder, String component) {
        for (String bin : new String[] {"diffusion_pytorch_model.bin", "pytorch_model.bin"}) {
            if (folder.hasFile(component, bin)) {
                return folder.component(component).resolve(bin) + ": PyTorch pickle weights are not loaded (unpickling runs"
                        + " arbitrary code); convert the folder to safetensors once with diffusers: python -c \"from diffusers import"
                        + " DiffusionPipeline as P; P.from_pretrained('" + folder.root() + "').save_pretrained('" + folder.root()
                        + "', safe_serialization=True)\"";
            }
        }
        return null;
    }

    /** The files one level down, e.g. {@code [text_encoder/model.safetensors, tokenizer/vocab.json, ...]}. */
    static String listing(ModelFolder folder) {
        List<String> found = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(folder.root())) {
            for (Path d : dirs.sorted().toList()) {
                if (!Files.isDirectory(d)) {
                    continue;
                }
                try (Stream<Path> files = Files.list(d)) {
                    List<Path> inside = files.filter(Files::isRegularFile).sorted().toList();
                    if (inside.isEmpty()) {
                        found.add(d.getFileName() + "/ (empty)");
                    }
                    for (Path f : inside) {
                        found.add(d.getFileName() + "/" + f.getFileName());
                    }
                }
            }
        } catch (IOException e) {
            return "(cannot list " + folder.root() + ": " + e.getMessage() + ")";
        }
        if (found.size() > MAX_LISTED) {
            int more = found.size() - MAX_LISTED;
            found = new ArrayList<>(found.subList(0, MAX_LISTED));
            found.add("… " + more + " more");
        }
        return found.isEmpty() ? "no component folders" : found.toString();
    }
}
