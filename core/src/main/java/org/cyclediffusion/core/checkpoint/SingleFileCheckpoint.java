package org.cyclediffusion.core.checkpoint;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.Function;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.SafetensorsFile.TensorInfo;
import org.cyclediffusion.core.io.TensorSource;

/**
 * A Stable Diffusion checkpoint in the original (LDM / CompVis) layout, one safetensors file with
 * every network, as A1111, ComfyUI and Civitai distribute them: UNet under
 * {@code model.diffusion_model.}, VAE under {@code first_stage_model.}, text encoder under
 * {@code cond_stage_model.transformer.} (SD 1.x) or {@code cond_stage_model.model.} (SD 2.x), and
 * often an EMA copy of the UNet under {@code model_ema.} with the dots of its names removed.
 *
 * <p>The networks are seen through {@link #weights}: views with diffusers' names over the mapped
 * file, computed with the configs of the folder the model is described by (block indices depend on
 * {@code layers_per_block}, the extra OpenCLIP layer on {@code num_hidden_layers}).
 */
public final class SingleFileCheckpoint {
    private static final System.Logger LOG = System.getLogger(SingleFileCheckpoint.class.getName());
    private static final String EMA_PREFIX = "model_ema.";
    /** Files that are Python pickles (PyTorch's {@code torch.save}). */
    private static final List<String> PICKLE_SUFFIXES = List.of(".ckpt", ".bin", ".pt", ".pth", ".pkl");

    private final Path path;
    private final TextEncoderLayout textEncoder;
    private final boolean ema;

    private SingleFileCheckpoint(Path path, TextEncoderLayout textEncoder, boolean ema) {
        this.path = path;
        this.textEncoder = textEncoder;
        this.ema = ema;
    }

    /**
     * Reads the header and checks the layout; pickle files are refused before a byte is read.
     *
     * @param ema load the UNet's EMA weights ({@code model_ema.*}) instead of the plain ones
     */
    public static SingleFileCheckpoint open(Path file, boolean ema) {
        refusePickle(file);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Map<String, TensorInfo> all = st.tensors();
            boolean unet = all.keySet().stream().anyMatch(k -> k.startsWith(LdmUNetNames.PREFIX));
            boolean vae = all.keySet().stream().anyMatch(k -> k.startsWith(LdmVaeNames.PREFIX));
            TextEncoderLayout te = null;
            for (TextEncoderLayout l : TextEncoderLayout.values()) {
                if (all.keySet().stream().anyMatch(k -> k.startsWith(l.prefix()))) {
                    te = l;
                }
            }
            if (!unet || !vae || te == null) {
                throw new ConfigException(file + ": not a Stable Diffusion checkpoint in the original layout: expected tensors under "
                        + LdmUNetNames.PREFIX + "*, " + LdmVaeNames.PREFIX + "* and " + TextEncoderLayout.CLIP.prefix() + "* (SD 1.x) or "
                        + TextEncoderLayout.OPEN_CLIP.prefix() + "* (SD 2.x); found " + all.size() + " tensors under " + prefixes(all)
                        + hint(all));
            }
            long emaCount = all.keySet().stream().filter(k -> k.startsWith(EMA_PREFIX)).count();
            if (ema && emaCount == 0) {
                throw new ConfigException(file + ": --ema asks for the EMA weights but the file has no " + EMA_PREFIX
                        + "* tensors (an \"emaonly\" file already holds them as its plain weights): drop --ema");
            }
            if (!ema && emaCount > 0) {
                LOG.log(System.Logger.Level.INFO, file + " also holds EMA weights (" + emaCount + " tensors); using the plain ones, as"
                        + " diffusers does by default (--ema for the EMA ones)");
            }
            return new SingleFileCheckpoint(file.toAbsolutePath().normalize(), te, ema);
        }
    }

    /** Pickle checkpoints run arbitrary code when loaded: refused, with the one-line conversion. */
    public static void refusePickle(Path file) {
        String lower = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (PICKLE_SUFFIXES.stream().anyMatch(lower::endsWith)) {
            String out = file.getFileName().toString().replaceFirst("\\.[^.]+$", "") + ".safetensors";
            throw new ConfigException(file + ": a PyTorch pickle checkpoint is not loaded (unpickling runs arbitrary code); convert it once"
                    + " to safetensors: python -c \"import torch; from safetensors.torch import save_file; sd = torch.load('" + file
                    + "', map_location='cpu', weights_only=True); sd = sd.get('state_dict', sd); save_file({k: v.clone() for k, v in"
                    + " sd.items() if isinstance(v, torch.Tensor)}, '" + out + "')\"");
        }
    }

    public Path path() {
        return path;
    }

    public TextEncoderLayout textEncoderLayout() {
        return textEncoder;
    }

    public boolean ema() {
        return ema;
    }

    /**
     * The tensors of {@code unet}, {@code vae} or {@code text_encoder} under diffusers' names;
     * empty for any other component (the safety checker is not in these files).
     *
     * @param configs the folder whose configs describe the networks
     */
    public Optional<TensorSource> weights(String component, ModelFolder configs) {
        return switch (component) {
            case "unet" -> {
                int n = configs.config("unet", "config.json").getInt("layers_per_block", 2);
                yield Optional.of(view("UNet", LdmUNetNames.PREFIX, st -> unet(st, n)));
            }
            case "vae" -> {
                int levels = configs.config("vae", "config.json").getIntArray("block_out_channels").map(a -> a.length).orElse(1);
                yield Optional.of(view("VAE", LdmVaeNames.PREFIX, st -> vae(st, levels)));
            }
            case "text_encoder" -> {
                int layers = configs.config("text_encoder", "config.json").getInt("num_hidden_layers", 12);
                yield Optional.of(view("text encoder", textEncoder.prefix(), st -> textEncoder(st, layers)));
            }
            default -> Optional.empty();
        };
    }

    private TensorSource view(String part, String prefix, Function<SafetensorsFile, List<TensorInfo>> convert) {
        SafetensorsFile st = SafetensorsFile.open(path);
        try {
            Map<String, TensorInfo> out = new LinkedHashMap<>();
            for (TensorInfo t : convert.apply(st)) {
                if (out.put(t.name(), t) != null) {
                    throw new ConfigException(path + ": two tensors under " + prefix + "* convert to the same name '" + t.name() + "'");
                }
            }
            return new RemappedTensors(st, part + " " + prefix + "*", out);
        } catch (RuntimeException e) {
            st.close();
            throw e;
        }
    }

    private List<TensorInfo> unet(SafetensorsFile st, int layersPerBlock) {
        List<TensorInfo> out = new ArrayList<>();
        for (TensorInfo t : st.tensors().values()) {
            if (!t.name().startsWith(LdmUNetNames.PREFIX)) {
                continue;
            }
            String ldm = t.name().substring(LdmUNetNames.PREFIX.length());
            TensorInfo stored = t;
            if (ema) {
                // LDM's LitEma stores "model.diffusion_model.a.b" as "model_ema.diffusion_modelab".
                String flat = EMA_PREFIX + t.name().substring("model.".length()).replace(".", "");
                if (!st.has(flat)) {
                    throw new ConfigException(path + ": --ema: no EMA tensor '" + flat + "' for '" + t.name() + "'");
                }
                stored = st.info(flat);
                if (stored.dtype() != t.dtype() || !Arrays.equals(stored.shape(), t.shape())) {
                    throw new ConfigException(path + ": EMA tensor '" + flat + "' is " + stored.dtype() + Arrays.toString(stored.shape())
                            + ", its plain tensor '" + t.name() + "' " + t.dtype() + Arrays.toString(t.shape()));
                }
            }
            out.add(RemappedTensors.renamed(stored, LdmUNetNames.toDiffusers(ldm, layersPerBlock)));
        }
        return out;
    }

    private static List<TensorInfo> vae(SafetensorsFile st, int levels) {
        List<TensorInfo> out = new ArrayList<>();
        for (TensorInfo t : st.tensors().values()) {
            if (!t.name().startsWith(LdmVaeNames.PREFIX)) {
                continue;
            }
            String name = LdmVaeNames.toDiffusers(t.name().substring(LdmVaeNames.PREFIX.length()), levels);
            long[] shape = t.shape();
            if (LdmVaeNames.isAttentionProjection(name) && shape.length == 4 && shape[2] == 1 && shape[3] == 1) {
                shape = new long[] {shape[0], shape[1]}; // a 1×1 convolution is a linear layer over channels
            }
            out.add(new TensorInfo(name, t.dtype(), shape, t.begin(), t.end()));
        }
        return out;
    }

    private List<TensorInfo> textEncoder(SafetensorsFile st, int layers) {
        List<TensorInfo> out = new ArrayList<>();
        String prefix = textEncoder.prefix();
        for (TensorInfo t : st.tensors().values()) {
            if (!t.name().startsWith(prefix)) {
                continue;
            }
            String name = t.name().substring(prefix.length());
            if (textEncoder == TextEncoderLayout.OPEN_CLIP) {
                out.addAll(OpenClipTextNames.toDiffusers(RemappedTensors.renamed(t, name), layers));
            } else if (!name.endsWith("position_ids")) { // a buffer transformers recomputes
                // Files saved by older transformers lack the text_model. level.
                out.add(RemappedTensors.renamed(t, name.startsWith("text_model.") ? name : "text_model." + name));
            }
        }
        return out;
    }

    private static TreeSet<String> prefixes(Map<String, TensorInfo> all) {
        TreeSet<String> p = new TreeSet<>();
        for (String k : all.keySet()) {
            String[] parts = k.split("\\.");
            p.add(parts.length > 2 ? parts[0] + "." + parts[1] + ".*" : k);
            if (p.size() > 12) {
                break;
            }
        }
        return p;
    }

    private static String hint(Map<String, TensorInfo> all) {
        if (all.keySet().stream().anyMatch(k -> k.startsWith("conditioner.embedders."))) {
            return " (an SDXL checkpoint: SDXL is not supported)";
        }
        if (all.keySet().stream().anyMatch(k -> k.startsWith("down_blocks.") || k.startsWith("encoder.down_blocks.")
                || k.startsWith("text_model."))) {
            return " (this looks like one network of a diffusers folder: pass the folder itself to --model)";
        }
        return "";
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
