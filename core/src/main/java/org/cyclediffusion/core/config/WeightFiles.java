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
 * 0.28 to 0.30 named a variant's shards. When both a single file and an index exist, diffusers'
 * {@code ModelMixin.from_pretrained} reads the index (it looks for it first), transformers'
 * {@code PreTrainedModel.from_pretrained} the single file; a folder holds both when it was saved
 * sharded over an unsharded save, which {@code save_pretrained} leaves in place.
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

    /** Whether {@code name} is a shard of {@code S} in variant {@code V} (null: no variant), in either naming. */
    public static boolean isShard(String name, String stem, String variant) {
        String s = Pattern.quote(stem);
        if (variant == null) {
            return name.matches(s + SHARD + "\\.safetensors");
        }
        String v = Pattern.quote(variant);
        return name.matches(s + "\\." + v + SHARD + "\\.safetensors") || name.matches(s + SHARD + "\\." + v + "\\.safetensors");
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
     * is present.
     */
    public static Optional<String> choose(Predicate<String> present, String stem, String variant) {
        String single = single(stem, variant);
        String index = index(stem, variant);
        boolean indexFirst = stem.equals(DIFFUSERS_STEM);
        for (String candidate : indexFirst ? new String[] {index, single} : new String[] {single, index}) {
            if (present.test(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** The variants among {@code names} for the stem: {@code S.V.safetensors} (not a shard) and {@code S.safetensors.index.V.json}, sorted. */
    public static SortedSet<String> variants(Collection<String> names, String stem) {
        SortedSet<String> out = new TreeSet<>();
        String singlePrefix = stem + ".";
        String indexPrefix = stem + ".safetensors.index.";
        for (String n : names) {
            String v = null;
            if (n.startsWith(indexPrefix) && n.endsWith(".json") && n.length() > indexPrefix.length() + ".json".length()) {
                v = n.substring(indexPrefix.length(), n.length() - ".json".length());
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
