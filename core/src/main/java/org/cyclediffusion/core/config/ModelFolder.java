package org.cyclediffusion.core.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
import java.util.function.Predicate;
import org.cyclediffusion.core.checkpoint.SingleFileCheckpoint;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.ShardedSafetensors;
import org.cyclediffusion.core.io.TensorSource;
import org.cyclediffusion.core.spi.PredictionType;

/**
 * A Stable Diffusion model folder: {@code model_index.json} and one sub-folder per component, in
 * the layout diffusers' {@code save_pretrained} or optimum's ONNX export writes.
 *
 * <p>Two refinements keep the backends unaware of where weights come from: a {@link #withVariant
 * variant} ({@code diffusion_pytorch_model.fp16.safetensors}, diffusers' {@code variant="fp16"}),
 * and a {@link #withCheckpoint single-file checkpoint} whose networks replace the folder's weights
 * while the folder supplies configs, tokenizer, scheduler and safety checker
 * ({@code from_single_file(..., config=folder)}). Backends read weights through {@link #weights}.
 */
public final class ModelFolder {
    private static final System.Logger LOG = System.getLogger(ModelFolder.class.getName());
    private final Path root;
    private final JsonConfig modelIndex;
    private final String variant;
    private final SingleFileCheckpoint checkpoint;
    private final Map<String, JsonConfig> configOverrides;

    private ModelFolder(Path root, JsonConfig modelIndex, String variant, SingleFileCheckpoint checkpoint,
            Map<String, JsonConfig> configOverrides) {
        this.root = root;
        this.modelIndex = modelIndex;
        this.variant = variant;
        this.checkpoint = checkpoint;
        this.configOverrides = Map.copyOf(configOverrides);
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
        return new ModelFolder(r, JsonConfig.read(index), null, null, Map.of());
    }

    /** The same folder, its weights taken from the {@code variant} files ({@code *.fp16.safetensors}); null: the plain ones. */
    public ModelFolder withVariant(String v) {
        return new ModelFolder(root, modelIndex, v, checkpoint, configOverrides);
    }

    /** The same folder's configs, tokenizer, scheduler and safety checker, with the networks of a single-file checkpoint. */
    public ModelFolder withCheckpoint(SingleFileCheckpoint c) {
        return new ModelFolder(root, modelIndex, variant, c, configOverrides);
    }

    /** The same folder, with {@code component/file} read as {@code config} instead (e.g. a prediction type settled by the user). */
    public ModelFolder withConfig(String component, String file, JsonConfig config) {
        Map<String, JsonConfig> m = new HashMap<>(configOverrides);
        m.put(component + "/" + file, config);
        return new ModelFolder(root, modelIndex, variant, checkpoint, m);
    }

    /** The same folder with the scheduler's {@code prediction_type} set (the user knows what the UNet predicts). */
    public ModelFolder withPredictionType(PredictionType type) {
        JsonConfig scheduler = config("scheduler", "scheduler_config.json");
        ObjectNode node = scheduler.node().deepCopy();
        node.put("prediction_type", type.configName());
        return withConfig("scheduler", "scheduler_config.json", new JsonConfig(node, scheduler.source() + " (prediction_type "
                + type.configName() + " by request)"));
    }

    public Optional<String> variant() {
        return Optional.ofNullable(variant);
    }

    public Optional<SingleFileCheckpoint> checkpoint() {
        return Optional.ofNullable(checkpoint);
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
        JsonConfig override = configOverrides.get(component + "/" + file);
        if (override != null) {
            return new JsonConfig(override.node().deepCopy(), override.source());
        }
        return JsonConfig.read(root.resolve(component).resolve(file));
    }

    /** Whether {@link #weights} finds the component's weights (a checkpoint's network, the variant or the plain file, or their shard index). */
    public boolean hasWeights(String component, String safetensorsName) {
        if (checkpoint != null && (component.equals("unet") || component.equals("vae") || component.equals("text_encoder"))) {
            return true;
        }
        try {
            return weightsFile(component, safetensorsName) != null;
        } catch (ConfigException e) {
            return false;
        }
    }

    /**
     * A component's tensors under diffusers' names: the checkpoint's network when there is one,
     * else {@code safetensorsName} of the component ({@code model.safetensors} for transformers
     * models, {@code diffusion_pytorch_model.safetensors} for diffusers models) or its variant, as a
     * single file or as shards with their index ({@link WeightFiles} says which, as diffusers and
     * transformers choose). A folder holding only variant files of one kind uses them; pickle
     * weights ({@code .bin}) are refused (unpickling runs arbitrary code) with the one-line
     * conversion. The caller closes it.
     */
    public TensorSource weights(String component, String safetensorsName) {
        if (checkpoint != null) {
            Optional<TensorSource> fromCheckpoint = checkpoint.weights(component, this);
            if (fromCheckpoint.isPresent()) {
                return fromCheckpoint.get();
            }
        }
        Path file = weightsFile(component, safetensorsName);
        if (file == null) {
            String bin = safetensorsName.equals("model.safetensors") ? "pytorch_model.bin" : safetensorsName.replace(".safetensors", ".bin");
            if (hasFile(component, bin)) {
                throw new ConfigException(component(component).resolve(bin) + ": PyTorch pickle weights are not loaded (unpickling runs"
                        + " arbitrary code); convert the folder to safetensors once with diffusers: python -c \"from diffusers import"
                        + " DiffusionPipeline as P; P.from_pretrained('" + root + "').save_pretrained('" + root
                        + "', safe_serialization=True)\"");
            }
            throw new ConfigException(component(component).resolve(safetensorsName) + ": file not found, nor the shard index "
                    + WeightFiles.index(stem(safetensorsName), null) + " (the " + component + " component of " + root + " needs one)");
        }
        String name = file.getFileName().toString();
        WeightFiles.deprecatedIndexVariant(name).ifPresent(v -> LOG.log(System.Logger.Level.WARNING, file + ": a shard index under the"
                + " name diffusers 0.29 and 0.30 gave a variant's index, which diffusers deprecates: it reads it only when "
                + WeightFiles.index(stem(safetensorsName), v) + " is absent, and plans to stop in 1.0.0; save the component again with"
                + " save_pretrained(variant=\"" + v + "\") for the current names of the index and its shards"));
        return ShardedSafetensors.isIndex(name) ? ShardedSafetensors.open(file) : SafetensorsFile.open(file);
    }

    /**
     * Every weights variant the components' folders hold ({@code fp16} for {@code *.fp16.safetensors},
     * a {@code *.safetensors.index.fp16.json} or a diffusers model's deprecated
     * {@code diffusion_pytorch_model.safetensors.fp16.index.json}), sorted.
     */
    public List<String> variantsPresent() {
        java.util.TreeSet<String> all = new java.util.TreeSet<>();
        for (String component : new String[] {"unet", "vae", "text_encoder", "safety_checker"}) {
            List<String> names = fileNames(root.resolve(component));
            all.addAll(WeightFiles.variants(names, "diffusion_pytorch_model"));
            all.addAll(WeightFiles.variants(names, "model"));
        }
        return List.copyOf(all);
    }

    /**
     * The file {@link #weights} reads for a component of the folder itself (the single file or the
     * shard index, of the variant or the only variant there is); fails as {@link #requireFile} when
     * there is none and {@code required}. Readers of tensors take {@link #weights} instead, which
     * also reads shards.
     */
    public Path weightsFile(String component, String safetensorsName, boolean required) {
        Path file = weightsFile(component, safetensorsName);
        return file != null || !required ? file : requireFile(component, safetensorsName);
    }

    /**
     * Every file the component's weights are read from: the single file, or the shard index and
     * then its shards; empty when there is none. For fingerprints that must change when any of them does.
     */
    public List<Path> weightFiles(String component, String safetensorsName) {
        Path file = weightsFile(component, safetensorsName);
        if (file == null) {
            return List.of();
        }
        if (!ShardedSafetensors.isIndex(file.getFileName().toString())) {
            return List.of(file);
        }
        List<Path> all = new ArrayList<>(List.of(file));
        all.addAll(ShardedSafetensors.shardFiles(file));
        return List.copyOf(all);
    }

    /** The weights file (single or index) of a component, or null when there is none (an ambiguous or missing variant fails). */
    private Path weightsFile(String component, String safetensorsName) {
        Path dir = root.resolve(component);
        String stem = stem(safetensorsName);
        Predicate<String> present = name -> Files.isRegularFile(dir.resolve(name));
        if (variant != null) {
            Optional<String> v = WeightFiles.choose(present, stem, variant);
            if (v.isPresent()) {
                return dir.resolve(v.get());
            }
            SortedSet<String> found = WeightFiles.variants(fileNames(dir), stem);
            boolean plain = WeightFiles.choose(present, stem, null).isPresent();
            throw new ConfigException(dir.resolve(WeightFiles.single(stem, variant)) + ": file not found, nor the shard index "
                    + WeightFiles.index(stem, variant) + " (--variant " + variant + "; " + component + "/ has "
                    + (found.isEmpty() ? "no variant files" : "variants " + found) + (plain
                            ? " and the plain " + safetensorsName + " or its shards: drop --variant to use them" : "") + ")");
        }
        Optional<String> plain = WeightFiles.choose(present, stem, null);
        if (plain.isPresent()) {
            return dir.resolve(plain.get());
        }
        List<String> found = List.copyOf(WeightFiles.variants(fileNames(dir), stem));
        if (found.size() == 1) {
            return dir.resolve(WeightFiles.choose(present, stem, found.get(0)).orElseThrow());
        }
        if (found.size() > 1) {
            throw new ConfigException(dir + ": no " + safetensorsName + ", only the variants " + found + "; pick one with --variant");
        }
        return null;
    }

    private static String stem(String safetensorsName) {
        return safetensorsName.substring(0, safetensorsName.length() - ".safetensors".length());
    }

    /** The names of the regular files in a folder (none when it is absent). */
    private static List<String> fileNames(Path dir) {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                if (Files.isRegularFile(f)) {
                    out.add(f.getFileName().toString());
                }
            }
        } catch (IOException e) {
            throw new ConfigException(dir + ": cannot list (" + e + ")", e);
        }
        return out;
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
        return checkpoint != null ? checkpoint.path() + " (configs from " + root + ")" : root.toString();
    }
}
