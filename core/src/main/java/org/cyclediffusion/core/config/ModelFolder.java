package org.cyclediffusion.core.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A Stable Diffusion model folder: {@code model_index.json} and one sub-folder per component, in
 * the layout diffusers' {@code save_pretrained} or optimum's ONNX export writes.
 */
public final class ModelFolder {
    private final Path root;
    private final JsonConfig modelIndex;

    private ModelFolder(Path root, JsonConfig modelIndex) {
        this.root = root;
        this.modelIndex = modelIndex;
    }

    public static ModelFolder open(Path root) {
        Path r = root.toAbsolutePath().normalize();
        if (!Files.exists(r)) {
            throw new ConfigException(root + ": model folder not found (expected a directory with model_index.json)");
        }
        if (!Files.isDirectory(r)) {
            throw new ConfigException(root + ": not a directory (expected a model folder with model_index.json, not a single file)");
        }
        Path index = r.resolve("model_index.json");
        if (!Files.isRegularFile(index)) {
            throw new ConfigException(root + ": no model_index.json (expected a diffusers or optimum Stable Diffusion folder)");
        }
        return new ModelFolder(r, JsonConfig.read(index));
    }

    public Path root() {
        return root;
    }

    public JsonConfig modelIndex() {
        return modelIndex;
    }

    public Path component(String name) {
        return root.resolve(name);
    }

    public boolean hasFile(String component, String file) {
        return Files.isRegularFile(root.resolve(component).resolve(file));
    }

    /**
     * The [library, class] pair model_index.json declares for a component, or empty when the
     * component is absent or declared as {@code [null, null]}.
     */
    public Optional<List<String>> declared(String component) {
        Optional<List<String>> entry = modelIndex.getStringList(component);
        return entry.filter(l -> l.size() == 2 && l.get(0) != null && l.get(1) != null);
    }

    /** A component's config file, failing with the path when it is missing. */
    public JsonConfig config(String component, String file) {
        return JsonConfig.read(root.resolve(component).resolve(file));
    }

    /** A required file of a component, failing with what was expected when it is missing. */
    public Path requireFile(String component, String file) {
        Path p = root.resolve(component).resolve(file);
        if (!Files.isRegularFile(p)) {
            throw new ConfigException(p + ": file not found (the " + component + " component of " + root + " needs it)");
        }
        return p;
    }

    @Override
    public String toString() {
        return root.toString();
    }
}
