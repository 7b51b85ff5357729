package org.cyclediffusion.core.config;

import java.util.Collection;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The names diffusers and transformers give a component's safetensors weights, and which of them
 * a load reads; shared by the model folder (names on disk) and the hub download (names in the
 * repository's file list), so both settle on the same files.
 *
 * <p>For a stem {@code S} ({@code diffusion_pytorch_model} for diffusers models, {@code model}
 * for transformers models) and an optional variant {@code V}, as {@code _add_variant} inserts it
 * before the last dot: the single file {@code S[.V].safetensors}; the shard index
 * {@code S.safetensors.index[.V].json}; the shards {@code S[.V]-00001-of-00003.safetensors}
 * (diffusers from 0.31 and transformers), or {@code S-00001-of-00003.V.safetensors} as diffusers
 * 0.29 and 0.30 named a variant's shards. Those two versions also named a variant's index
 * {@code S.safetensors.V.index.json} (their {@code _add_variant} put the variant before
 * {@code .index.json}); diffusers from 0.31 still reads that {@link #deprecatedIndex}, for
 * diffusers models with a variant only, when the current name is absent, and warns that it is
 * deprecated ({@code _fetch_index_file_legacy}). When both a single file and an index exist,
 * diffusers' {@code ModelMixin.from_pretrained} reads the index (it looks for it first),
 * transformers' {@code PreTrainedModel.from_pretrained} the single file; a folder holds both when it
 * was saved sharded over an unsharded save, which {@code save_pretrained} leaves in place.
 * (diffusers 0.23, the reference of the pipeline, reads no shard index at all: sharded
 * {@code ModelMixin} checkpoints came with 0.29.)
 */
public final class WeightFiles {
    /** A shard's number, as huggingface_hub's {@code split_torch_state_dict_into_shards} writes it. */
    private static final String SHARD = "-\\d{5,}-of-\\d{5,}";
    private static final Pattern SHARD_SUFFIX = Pattern.compile(SHARD + "$");
    private static final String DIFFUSERS_STEM = "diffusion_pytorch_model";

    private WeightFiles() {
    }

    /** {@code S[.V].safetensors}. */
    public static String single(String stem, String variant) {
        return stem + (variant == null ? "" : "." + variant) + ".safetensors";
    }

    /** {@code S.safetensors.index[.V].json}. */
    public static String index(String stem, String variant) {
        return stem + ".safetensors.index" + (variant == null ? "" : "." + variant) + ".json";
    }

    /**
     * {@code S.safetensors.V.index.json}, the deprecated name of a diffusers model's variant index
     * (diffusers 0.29 and 0.30); read only when {@link #index} is absent.
     */
    public static String deprecatedIndex(String stem, String variant) {
        return stem + ".safetensors." + variant + ".index.json";
    }

    /** The variant of a diffusers model's index under its {@link #deprecatedIndex deprecated} name; empty for any other name. */
    public static Optional<String> deprecatedIndexVariant(String name) {
        String prefix = DIFFUSERS_STEM + ".safetensors.";
        String suffix = ".index.json";
        if (!name.startsWith(prefix) || !name.endsWith(suffix) || name.length() <= prefix.length() + suffix.length()) {
            return Optional.empty();
        }
        String v = name.substring(prefix.length(), name.length() - suffix.length());
        return v.contains(".") ? Optional.empty() : Optional.of(v);
    }

    /** Whether {@code name} is a shard of {@code S} in variant {@code V} (null: no variant), in either naming. */
    public static boolean isShard(String name, String stem, String variant) {
        String s = Pattern.quote(stem);
        if (variant == null) {
            return name.matches(s + SHARD + "\\.safetensors");
        }
        return name.matches(s + "\\." + Pattern.quote(variant) + SHARD + "\\.safetensors") || isOldShard(name, stem, variant);
    }

    /** Whether {@code name} is a shard of {@code S} in variant {@code V} as diffusers 0.29 and 0.30 named it: {@code S-00001-of-00003.V.safetensors}. */
    public static boolean isOldShard(String name, String stem, String variant) {
        return variant != null && name.matches(Pattern.quote(stem) + SHARD + "\\." + Pattern.quote(variant) + "\\.safetensors");
    }

    /** The stem a weights file name belongs to: up to its first dot, without a shard number ({@code S-00001-of-00002} → {@code S}). */
    public static String stemOf(String name) {
        int dot = name.indexOf('.');
        String head = dot < 0 ? name : name.substring(0, dot);
        Matcher m = SHARD_SUFFIX.matcher(head);
        return m.find() ? head.substring(0, m.start()) : head;
    }

    /**
     * The file a load reads for the stem in exactly this variant (null: the plain weights): the
     * single file or the index, in the order of the library that owns the stem; empty when neither
     * is present. A diffusers model's variant index is looked for under its current name, then under
     * the {@link #deprecatedIndex deprecated} one, both before the single file, as
     * {@code ModelMixin.from_pretrained} does.
     */
    public static Optional<String> choose(Predicate<String> present, String stem, String variant) {
        String single = single(stem, variant);
        String index = index(stem, variant);
        String[] order;
        if (!stem.equals(DIFFUSERS_STEM)) {
            order = new String[] {single, index};
        } else if (variant != null) {
            order = new String[] {index, deprecatedIndex(stem, variant), single};
        } else {
            order = new String[] {index, single};
        }
        for (String candidate : order) {
            if (present.test(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /**
     * The variants among {@code names} for the stem: {@code S.V.safetensors} (not a shard),
     * {@code S.safetensors.index.V.json} and, for diffusers models, the deprecated
     * {@code S.safetensors.V.index.json}; sorted.
     */
    public static SortedSet<String> variants(Collection<String> names, String stem) {
        SortedSet<String> out = new TreeSet<>();
        String singlePrefix = stem + ".";
        String indexPrefix = stem + ".safetensors.index.";
        for (String n : names) {
            String v = null;
            if (n.startsWith(indexPrefix) && n.endsWith(".json") && n.length() > indexPrefix.length() + ".json".length()) {
                v = n.substring(indexPrefix.length(), n.length() - ".json".length());
            } else if (stem.equals(DIFFUSERS_STEM) && deprecatedIndexVariant(n).isPresent()) {
                v = deprecatedIndexVariant(n).get();
            } else if (n.startsWith(singlePrefix) && n.endsWith(".safetensors") && n.length() > singlePrefix.length() + ".safetensors".length()) {
                v = n.substring(singlePrefix.length(), n.length() - ".safetensors".length());
                if (SHARD_SUFFIX.matcher(v).find()) {
                    v = null; // S.V-00001-of-00002.safetensors: a shard, its variant counts through the index
                }
            }
            if (v != null && !v.isEmpty() && !v.contains(".")) {
                out.add(v);
            }
        }
        return out;
    }
}
