package org.cyclediffusion.core.checkpoint;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.spi.PredictionType;

/**
 * A single-file checkpoint as a {@link ModelFolder}: the configs, tokenizer and scheduler of a
 * diffusers folder ({@code --config}), or, for a standard file, the bundled ones of its
 * generation (SD 1.5 / SD 2.1 sizes from the text encoder's layout; the CLIP BPE files are the real
 * ones). The prediction type of an SD 2.x file is not in the file: {@code --prediction-type}, else
 * a sidecar {@code NAME.yaml} (A1111's convention: {@code parameterization: "v"} for the 768 models,
 * absent for 512-base), else the config folder's scheduler, else v-prediction as diffusers'
 * {@code from_single_file} assumes for SD 2.x, with a warning.
 */
public final class CheckpointFolders {
    private static final System.Logger LOG = System.getLogger(CheckpointFolders.class.getName());
    private static final Pattern V_PARAMETERIZATION = Pattern.compile("(?m)^\\s*parameterization\\s*:\\s*[\"']?v[\"']?\\s*(#.*)?$");

    private CheckpointFolders() {
    }

    /**
     * @param configDir      a diffusers folder describing the networks, or null for the bundled configs
     * @param predictionType null unless the user set it
     */
    public static ModelFolder open(Path file, Path configDir, boolean ema, PredictionType predictionType) {
        SingleFileCheckpoint checkpoint = SingleFileCheckpoint.open(file, ema);
        ModelFolder configs = configDir != null ? ModelFolder.open(configDir) : bundled(checkpoint.textEncoderLayout());
        if (configDir == null) {
            checkStandardSizes(checkpoint, configs);
        }
        PredictionType chosen = predictionType;
        if (chosen == null) {
            chosen = sidecar(file).orElse(null);
        }
        if (chosen == null && configDir == null && checkpoint.textEncoderLayout() == TextEncoderLayout.OPEN_CLIP) {
            LOG.log(System.Logger.Level.WARNING, file + ": an SD 2.x file does not say whether it predicts v (768 models) or epsilon"
                    + " (512-base); assuming v_prediction as diffusers does. For a 512-base file pass --prediction-type epsilon, or put"
                    + " its A1111 config beside it as " + sidecarPath(file).getFileName());
        }
        ModelFolder folder = configs.withCheckpoint(checkpoint);
        return chosen != null ? folder.withPredictionType(chosen) : folder;
    }

    /**
     * The bundled configs describe SD 1.5 / 2.1 sizes; a file of other sizes (a distilled or tiny
     * model) is told to bring its configs, before any weight is read.
     */
    private static void checkStandardSizes(SingleFileCheckpoint checkpoint, ModelFolder configs) {
        int width = configs.config("text_encoder", "config.json").getInt("hidden_size", 0);
        int channels = configs.config("unet", "config.json").getIntArray("block_out_channels").map(a -> a[0]).orElse(0);
        String embedding = checkpoint.textEncoderLayout() == TextEncoderLayout.CLIP
                ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight";
        try (SafetensorsFile st = SafetensorsFile.open(checkpoint.path())) {
            String te = checkpoint.textEncoderLayout().prefix() + embedding;
            if (!st.has(te)) {
                te = checkpoint.textEncoderLayout().prefix() + "embeddings.token_embedding.weight";
            }
            long[] teShape = st.has(te) ? st.info(te).shape() : new long[0];
            String conv = LdmUNetNames.PREFIX + "input_blocks.0.0.weight";
            long[] convShape = st.has(conv) ? st.info(conv).shape() : new long[0];
            boolean teFits = teShape.length == 2 && teShape[1] == width;
            boolean unetFits = convShape.length == 4 && convShape[0] == channels;
            if (!teFits || !unetFits) {
                throw new ConfigException(checkpoint.path() + ": not the standard " + checkpoint.textEncoderLayout().generation()
                        + " sizes the bundled configs describe (text encoder width " + (teShape.length == 2 ? teShape[1] : "?")
                        + ", expected " + width + "; UNet first block " + (convShape.length == 4 ? convShape[0] : "?") + " channels, expected "
                        + channels + "): pass --config with a diffusers folder whose configs describe this model");
            }
        }
    }

    /** A1111's {@code NAME.yaml} beside {@code NAME.safetensors}: v when it declares {@code parameterization: "v"}. */
    static Optional<PredictionType> sidecar(Path file) {
        Path yaml = sidecarPath(file);
        if (!Files.isRegularFile(yaml)) {
            return Optional.empty();
        }
        try {
            String text = Files.readString(yaml);
            return Optional.of(V_PARAMETERIZATION.matcher(text).find() ? PredictionType.V_PREDICTION : PredictionType.EPSILON);
        } catch (IOException e) {
            throw new ConfigException(yaml + ": cannot read (" + e + ")", e);
        }
    }

    private static Path sidecarPath(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return file.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".yaml");
    }

    /** The bundled folder of a generation, read in place from the class path (a directory or inside the jar). */
    static ModelFolder bundled(TextEncoderLayout layout) {
        String dir = layout == TextEncoderLayout.CLIP ? "sd-v1" : "sd-v2";
        URL index = CheckpointFolders.class.getResource(dir + "/model_index.json");
        if (index == null) {
            throw new IllegalStateException("bundled configs " + dir + " missing from the class path of " + CheckpointFolders.class);
        }
        try {
            URI uri = index.toURI();
            if (uri.getScheme().equals("jar")) {
                try {
                    FileSystems.newFileSystem(uri, Map.of());
                } catch (FileSystemAlreadyExistsException alreadyOpen) {
                    // opened by an earlier call: Path.of finds it
                }
            }
            return ModelFolder.open(Path.of(uri).getParent());
        } catch (URISyntaxException | IOException e) {
            throw new IllegalStateException("cannot read the bundled configs " + index + " (" + e + ")", e);
        }
    }
}
