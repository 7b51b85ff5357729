package org.cyclediffusion.core.hub;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.WeightFiles;
import org.cyclediffusion.core.io.ShardedSafetensors;

/**
 * Which files of a pipeline repository a run needs: {@code model_index.json}, and in the folder
 * of every component it declares the configs, tokenizer and scheduler files and the weights of
 * one backend in one variant: safetensors for LibTorch (the plain file, the {@code --variant} one,
 * or the only variant there is; for a sharded checkpoint its index and the shards of that variant,
 * see {@link WeightFiles}), the {@code .onnx} graph and its external data for ONNX Runtime.
 * Pickles, Flax and TensorFlow weights, other variants and other backends' files are left on the
 * hub; without the safety checker its weights are too.
 */
public final class HubFileSelection {
    public static final String MODEL_INDEX = "model_index.json";
    private static final Set<String> OTHER_WEIGHTS = Set.of(".bin", ".ckpt", ".pt", ".pth", ".msgpack", ".h5", ".pkl");
    private static final Set<String> ONNX = Set.of(".onnx", ".onnx_data", ".pb");

    private HubFileSelection() {
    }

    /**
     * @param backend null: LibTorch when the UNet has safetensors weights, else ONNX when it has a graph
     */
    public static List<String> select(HubId id, List<String> files, JsonConfig modelIndex, String backend, String variant,
            boolean safetyChecker) {
        String chosen = backend != null ? backend : files.stream().anyMatch(f -> f.startsWith("unet/diffusion_pytorch_model")
                && f.endsWith(".safetensors")) ? "libtorch" : files.contains("unet/model.onnx") ? "onnx" : null;
        if (chosen == null) {
            throw new HubException(id + ": no UNet weights this program loads (unet/diffusion_pytorch_model*.safetensors or unet/model.onnx);"
                    + " the repository has " + abbreviate(files.stream().filter(f -> f.startsWith("unet/")).toList()));
        }
        Set<String> components = new java.util.TreeSet<>();
        modelIndex.node().fields().forEachRemaining(e -> {
            if (!e.getKey().startsWith("_") && e.getValue().isArray() && e.getValue().size() == 2 && !e.getValue().get(0).isNull()) {
                components.add(e.getKey());
            }
        });
        if (!safetyChecker) {
            components.remove("safety_checker");
        }
        List<String> out = new ArrayList<>(List.of(MODEL_INDEX));
        Map<String, Map<String, List<String>>> safetensors = new TreeMap<>(); // dir → stem → files
        for (String f : files) {
            int slash = f.indexOf('/');
            if (slash < 0 || !components.contains(f.substring(0, slash)) || f.substring(f.lastIndexOf('/') + 1).startsWith(".")) {
                continue;
            }
            String ext = extension(f);
            String name = f.substring(f.lastIndexOf('/') + 1);
            if (f.endsWith(".safetensors") || ShardedSafetensors.isIndex(name)) {
                if (chosen.equals("libtorch")) {
                    String dir = f.substring(0, f.lastIndexOf('/'));
                    safetensors.computeIfAbsent(dir, d -> new LinkedHashMap<>()).computeIfAbsent(WeightFiles.stemOf(name),
                            s -> new ArrayList<>()).add(name);
                }
            } else if (ONNX.contains(ext) || f.contains(".onnx_data")) {
                if (chosen.equals("onnx")) {
                    out.add(f);
                }
            } else if (!OTHER_WEIGHTS.contains(ext) && !(name.contains(".bin.index.") && name.endsWith(".json"))) {
                out.add(f);
            }
        }
        safetensors.forEach((dir, stems) -> stems.forEach((stem, names) -> pick(id, dir, stem, names, variant)
                .forEach(n -> out.add(dir + "/" + n))));
        return out;
    }

    /**
     * The names in one folder a load reads for one stem, chosen as {@link WeightFiles} says: the
     * single file, or the shard index and every shard of its variant. Only the file list is known
     * here, not the index's contents, so all shards that carry the variant's name are taken.
     */
    private static List<String> pick(HubId id, String dir, String stem, List<String> names, String variant) {
        if (variant != null) {
            Optional<String> wanted = WeightFiles.choose(names::contains, stem, variant);
            if (wanted.isPresent()) {
                return withShards(wanted.get(), names, stem, variant);
            }
            // a missing variant is named when the folder opens
            return WeightFiles.choose(names::contains, stem, null).map(p -> withShards(p, names, stem, null))
                    .orElse(List.of(WeightFiles.single(stem, null)));
        }
        Optional<String> plain = WeightFiles.choose(names::contains, stem, null);
        if (plain.isPresent()) {
            return withShards(plain.get(), names, stem, null);
        }
        List<String> variants = List.copyOf(WeightFiles.variants(names, stem));
        if (variants.size() == 1) {
            return withShards(WeightFiles.choose(names::contains, stem, variants.get(0)).orElseThrow(), names, stem, variants.get(0));
        }
        if (variants.isEmpty() && names.size() == 1) {
            return names;
        }
        throw new HubException(id + ": " + dir + "/ has only the variants " + (variants.isEmpty() ? names : variants)
                + " of " + stem + "; pick one with --variant");
    }

    /**
     * The chosen file and, for an index, the shards of its variant. A variant's shards come in two
     * namings ({@link WeightFiles#isOldShard}); when both are listed, an index takes those of its own
     * generation (the deprecated index the old names, the current index the current ones), and the
     * other naming only when its own is absent. diffusers' {@code variant_compatible_siblings} does
     * the same per component: current variant files when there are any, else the old ones.
     */
    private static List<String> withShards(String chosen, List<String> names, String stem, String variant) {
        if (!ShardedSafetensors.isIndex(chosen)) {
            return List.of(chosen);
        }
        Map<Boolean, List<String>> byNaming = names.stream().filter(n -> WeightFiles.isShard(n, stem, variant)).sorted()
                .collect(Collectors.partitioningBy(n -> WeightFiles.isOldShard(n, stem, variant)));
        boolean old = WeightFiles.deprecatedIndexVariant(chosen).isPresent();
        List<String> own = byNaming.get(old);
        List<String> out = new ArrayList<>(List.of(chosen));
        out.addAll(own.isEmpty() ? byNaming.get(!old) : own);
        return out;
    }

    private static String extension(String f) {
        String name = f.substring(f.lastIndexOf('/') + 1);
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot).toLowerCase(Locale.ROOT);
    }

    private static String abbreviate(List<String> files) {
        return files.size() <= 10 ? files.toString() : files.subList(0, 10) + " and " + (files.size() - 10) + " more";
    }
}
