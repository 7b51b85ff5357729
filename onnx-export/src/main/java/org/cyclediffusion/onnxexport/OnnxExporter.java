package org.cyclediffusion.onnxexport;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Stream;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;

/**
 * Writes the ONNX layout of {@code optimum-cli export onnx} (text_encoder, unet, vae_encoder,
 * vae_decoder, each {@code model.onnx} with its weights in {@code model.onnx_data}, plus the
 * configs, scheduler, tokenizer and feature extractor) from a diffusers folder with safetensors
 * weights, in plain Java: no Python, no download. The graphs are built from the configs, not
 * traced, and compute what the PyTorch modules compute in float32.
 *
 * <p>The safety checker, when the source has one, is written as diffusers' ONNX export script
 * writes it ({@code safety_checker/model.onnx}, the traced {@code forward_onnx}; optimum exports none).
 *
 * <p>The folder appears complete or not at all: it is written beside the target and renamed into place.
 */
public final class OnnxExporter {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final List<String> COPIED = List.of("scheduler", "tokenizer", "feature_extractor");

    /**
     * Revision of the graphs this exporter writes, raised whenever they change (2: ONNX Runtime's
     * attention, GEGLU as two MatMuls, im2col at the UNet's lowest level). Caches of exports are
     * keyed by it, so that a benchmark never runs an older exporter's graphs as the current ones.
     */
    public static final int GRAPH_REVISION = 2;

    /** {@code false} writes attention in standard ONNX operators only (see {@link #contribAttention()}). */
    public static final String CONTRIB_ATTENTION_PROPERTY = "cyclediffusion.onnxExport.contribAttention";

    private OnnxExporter() {
    }

    /**
     * Whether the UNet's attention is written as ONNX Runtime's {@code com.microsoft.MultiHeadAttention}
     * (default) rather than as MatMul/Softmax/Transpose nodes: ONNX Runtime does not fuse the latter
     * itself (its Python transformer optimizer would), and its fused CPU kernel is flash attention.
     * Such a graph runs on ONNX Runtime only; {@code -D}{@value #CONTRIB_ATTENTION_PROPERTY}{@code =false}
     * keeps to the default ONNX domain.
     */
    public static boolean contribAttention() {
        return !"false".equalsIgnoreCase(System.getProperty(CONTRIB_ATTENTION_PROPERTY, "true").trim());
    }

    /**
     * Exports {@code source} (a diffusers folder) to {@code target}, which must not exist yet; the
     * UNet's attention as {@link #contribAttention()} says.
     */
    public static void export(Path source, Path target, Consumer<String> progress) {
        export(source, target, progress, contribAttention());
    }

    /**
     * Exports {@code source} to {@code target}; {@code contribAttention}: the UNet's attention as ONNX
     * Runtime's {@code com.microsoft.MultiHeadAttention} (else standard ONNX operators only).
     */
    public static void export(Path source, Path target, Consumer<String> progress, boolean contribAttention) {
        if (Files.exists(target)) {
            throw new ConfigException(target + ": already exists; the ONNX export writes a new folder");
        }
        ModelFolder folder = ModelFolder.open(source);
        Path staging = target.resolveSibling("." + target.getFileName() + ".partial-" + ProcessHandle.current().pid());
        try {
            deleteRecursively(staging);
            Files.createDirectories(staging);
            component(folder, "text_encoder", "model.safetensors", staging.resolve("text_encoder"), ClipTextGraph::build, progress);
            component(folder, "unet", "diffusion_pytorch_model.safetensors", staging.resolve("unet"),
                    (c, w) -> UNetGraph.build(c, w, contribAttention), progress);
            component(folder, "vae", "diffusion_pytorch_model.safetensors", staging.resolve("vae_encoder"), VaeGraphs::encoder, progress);
            component(folder, "vae", "diffusion_pytorch_model.safetensors", staging.resolve("vae_decoder"), VaeGraphs::decoder, progress);
            boolean checker = folder.declared("safety_checker").isPresent() && folder.hasWeights("safety_checker", "model.safetensors");
            if (checker) {
                component(folder, "safety_checker", "model.safetensors", staging.resolve("safety_checker"), SafetyCheckerGraph::build, progress);
                // diffusers' OnnxRuntimeModel folder holds model.onnx only
                Files.delete(staging.resolve("safety_checker").resolve("config.json"));
            }
            for (String c : COPIED) {
                if (Files.isDirectory(source.resolve(c))) {
                    copyDirectory(source.resolve(c), staging.resolve(c));
                }
            }
            writeModelIndex(folder, staging.resolve("model_index.json"), checker);
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(staging);
            throw new CycleDiffusionException(target + ": cannot write the ONNX export: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            deleteQuietly(staging);
            throw e;
        }
    }

    private static void component(ModelFolder folder, String component, String weightsName, Path dir,
            java.util.function.BiFunction<JsonConfig, Weights, OnnxGraph> build, Consumer<String> progress) throws IOException {
        long start = System.nanoTime();
        JsonConfig config = folder.config(component, "config.json");
        try (Weights w = new Weights(folder.weights(component, weightsName))) {
            OnnxGraph g = build.apply(config, w);
            g.write(dir);
            Files.copy(folder.component(component).resolve("config.json"), dir.resolve("config.json"));
            progress.accept(String.format(java.util.Locale.ROOT, "%s: %d nodes in %.1f s", dir.getFileName(), g.nodeCount(),
                    (System.nanoTime() - start) / 1e9));
        }
    }

    /**
     * The source's model_index.json with the ONNX entries optimum writes, and the safety checker as
     * diffusers' ONNX pipeline declares it ({@code OnnxRuntimeModel}), or absent when the source has none.
     */
    private static void writeModelIndex(ModelFolder folder, Path file, boolean checker) throws IOException {
        ObjectNode index = folder.modelIndex().node().deepCopy();
        index.remove("vae");
        index.set("safety_checker", checker ? JSON.createArrayNode().add("diffusers").add("OnnxRuntimeModel")
                : JSON.createArrayNode().addNull().addNull());
        Function<String, ArrayNode> ort = cls -> JSON.createArrayNode().add("optimum").add(cls);
        index.set("text_encoder", ort.apply("ORTModelTextEncoder"));
        index.set("unet", ort.apply("ORTModelUnet"));
        index.set("vae_encoder", ort.apply("ORTModelVaeEncoder"));
        index.set("vae_decoder", ort.apply("ORTModelVaeDecoder"));
        JSON.writeValue(file.toFile(), index);
    }

    private static void copyDirectory(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path t = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(f, t);
                }
            }
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            deleteRecursively(dir);
        } catch (IOException | UncheckedIOException ignored) {
            // the staging folder is named per process and removed again before the next export
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(f);
            }
        }
    }
}
