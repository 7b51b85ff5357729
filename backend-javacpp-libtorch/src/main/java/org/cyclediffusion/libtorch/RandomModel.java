package org.cyclediffusion.libtorch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.io.AtomicFiles;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsWriter;
import org.cyclediffusion.core.spi.RandomModelWriter;
import org.cyclediffusion.libtorch.unet.UNet2DConditionModel;

/**
 * Full-size Stable Diffusion folders with seeded random float32 weights ({@link RandomInit}), for
 * benchmarks and memory tests that must run anywhere with no download: {@code sd15} (SD v1.5:
 * CLIP ViT-L/14 text encoder, UNet with 8 heads per block, epsilon prediction, safety checker) and
 * {@code sd21} (SD v2.1 768: OpenCLIP ViT-H text encoder with 23 layers, linear projections,
 * upcast attention, v-prediction, no safety checker). The architectures are the reference configs
 * of {@code full_size_configs.json} (diffusers' and transformers' parameter counts); the tensors'
 * names and shapes are those the backend's networks load ({@code expectedShapes}), so the folder
 * loads like a downloaded one. The tokenizer is CLIP's real BPE vocabulary and merges; the
 * scheduler is DDIM with SD's training schedule. The safety checker's concept thresholds are 1.0
 * (a cosine similarity never exceeds them), so random weights never black out an image while the
 * checker still does all its work.
 *
 * <p>The folder is written beside its target under a hidden name and renamed into place when
 * complete, so an interrupted run leaves no half-written model behind.
 */
public final class RandomModel implements RandomModelWriter {
    public static final List<String> ARCHITECTURES = List.of("sd15", "sd21");
    private static final String DIFFUSERS_VERSION = "0.23.0";
    private static final String TRANSFORMERS_VERSION = "4.35.2";
    private static final String RESOURCES = "randommodel/";
    private static final String CORE_TOKENIZERS = "/org/cyclediffusion/core/checkpoint/";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Override
    public List<String> architectures() {
        return ARCHITECTURES;
    }

    @Override
    public void write(String architecture, Path folder, long seed, boolean safetyChecker) {
        write(architecture, folder, seed, safetyChecker, reference());
    }

    /** As {@link #write(String, Path, long, boolean)} from other reference configs (a test writes tiny ones). */
    static void write(String architecture, Path folder, long seed, boolean safetyChecker, JsonNode reference) {
        String arch = architecture.toLowerCase(Locale.ROOT);
        if (!ARCHITECTURES.contains(arch)) {
            throw new IllegalArgumentException("random model architecture '" + architecture + "': expected one of " + ARCHITECTURES);
        }
        boolean sd15 = arch.equals("sd15");
        boolean withChecker = sd15 && safetyChecker;
        Path target = folder.toAbsolutePath().normalize();
        if (Files.exists(target) && !isEmptyDirectory(target)) {
            throw new IllegalArgumentException(target + ": exists and is not an empty directory (random models are written into a new folder)");
        }
        Path parent = target.getParent();
        Path partial = parent.resolve("." + target.getFileName() + ".partial-" + ProcessHandle.current().pid());
        try {
            Files.createDirectories(parent);
            deleteRecursively(partial);
            Files.createDirectories(partial);
            writeFolder(partial, sd15, withChecker, seed, reference);
            Files.deleteIfExists(target); // an empty directory only (checked above)
            Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(partial, e);
            throw new CycleDiffusionException("cannot write the random model " + target + ": " + e, e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(partial, e);
            throw e;
        }
    }

    private static void writeFolder(Path dir, boolean sd15, boolean withChecker, long seed, JsonNode reference) throws IOException {

        ObjectNode unet = JSON.createObjectNode().put("_class_name", "UNet2DConditionModel").put("_diffusers_version", DIFFUSERS_VERSION);
        unet.setAll((ObjectNode) reference.get(sd15 ? "sd15_unet" : "sd21_unet").get("config"));
        writeJson(dir.resolve("unet/config.json"), unet);
        writeWeights(dir.resolve("unet/diffusion_pytorch_model.safetensors"),
                UNet2DConditionModel.expectedShapes(new JsonConfig(unet.deepCopy(), "unet").quietCopy()), Map.of(), seed, "unet");

        ObjectNode vae = JSON.createObjectNode().put("_class_name", "AutoencoderKL").put("_diffusers_version", DIFFUSERS_VERSION);
        vae.setAll((ObjectNode) reference.get("sd_vae").get("config"));
        vae.put("force_upcast", true);
        if (!sd15) {
            vae.put("sample_size", 768);
        }
        writeJson(dir.resolve("vae/config.json"), vae);
        writeWeights(dir.resolve("vae/diffusion_pytorch_model.safetensors"),
                AutoencoderKL.expectedShapes(new JsonConfig(vae.deepCopy(), "vae").quietCopy()), Map.of(), seed, "vae");

        ObjectNode text = JSON.createObjectNode();
        text.putArray("architectures").add("CLIPTextModel");
        text.put("model_type", "clip_text_model").put("bos_token_id", 0).put("eos_token_id", 2).put("pad_token_id", 1)
                .put("torch_dtype", "float32").put("transformers_version", TRANSFORMERS_VERSION);
        text.setAll((ObjectNode) reference.get(sd15 ? "sd15_text_encoder" : "sd21_text_encoder").get("config"));
        writeJson(dir.resolve("text_encoder/config.json"), text);
        writeWeights(dir.resolve("text_encoder/model.safetensors"),
                ClipTextModel.expectedShapes(new JsonConfig(text.deepCopy(), "text_encoder").quietCopy()), Map.of(), seed, "text_encoder");

        if (withChecker) {
            // The reference lists the vision tower's keys flat beside projection_dim; a CLIPConfig nests them.
            ObjectNode flat = ((ObjectNode) reference.get("sd_safety_checker").get("config")).deepCopy();
            ObjectNode checker = JSON.createObjectNode();
            checker.putArray("architectures").add("StableDiffusionSafetyChecker");
            checker.put("model_type", "clip").set("projection_dim", flat.remove("projection_dim"));
            checker.put("torch_dtype", "float32").put("transformers_version", TRANSFORMERS_VERSION);
            flat.put("model_type", "clip_vision_model");
            checker.set("vision_config", flat);
            writeJson(dir.resolve("safety_checker/config.json"), checker);
            writeWeights(dir.resolve("safety_checker/model.safetensors"),
                    TorchSafetyEmbedder.expectedShapes(new JsonConfig(checker.deepCopy(), "safety_checker").quietCopy()),
                    Map.of("concept_embeds_weights", 1f, "special_care_embeds_weights", 1f), seed, "safety_checker");
        }

        ObjectNode scheduler = JSON.createObjectNode().put("_class_name", "DDIMScheduler").put("_diffusers_version", DIFFUSERS_VERSION)
                .put("beta_end", 0.012).put("beta_schedule", "scaled_linear").put("beta_start", 0.00085).put("clip_sample", false)
                .put("num_train_timesteps", 1000).put("prediction_type", sd15 ? "epsilon" : "v_prediction").put("set_alpha_to_one", false)
                .put("skip_prk_steps", true).put("steps_offset", 1);
        scheduler.putNull("trained_betas");
        writeJson(dir.resolve("scheduler/scheduler_config.json"), scheduler);

        // core's bundled tokenizers (single-file checkpoints use them too); SD 2.x pads with "!", not <|endoftext|>
        String tokenizer = sd15 ? CORE_TOKENIZERS + "sd-v1/tokenizer/" : CORE_TOKENIZERS + "sd-v2/tokenizer/";
        for (String f : new String[] {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
            copyResource(tokenizer + f, dir.resolve("tokenizer").resolve(f));
        }
        copyResource(RESOURCES + "preprocessor_config.json", dir.resolve("feature_extractor/preprocessor_config.json"));

        ObjectNode index = JSON.createObjectNode().put("_class_name", "StableDiffusionPipeline").put("_diffusers_version", DIFFUSERS_VERSION);
        index.putArray("feature_extractor").add("transformers").add("CLIPImageProcessor");
        index.put("requires_safety_checker", withChecker);
        if (withChecker) {
            index.putArray("safety_checker").add("stable_diffusion").add("StableDiffusionSafetyChecker");
        } else {
            index.putArray("safety_checker").addNull().addNull();
        }
        index.putArray("scheduler").add("diffusers").add("DDIMScheduler");
        index.putArray("text_encoder").add("transformers").add("CLIPTextModel");
        index.putArray("tokenizer").add("transformers").add("CLIPTokenizer");
        index.putArray("unet").add("diffusers").add("UNet2DConditionModel");
        index.putArray("vae").add("diffusers").add("AutoencoderKL");
        writeJson(dir.resolve("model_index.json"), index);
    }

    /**
     * One component's safetensors file, streamed tensor by tensor (the UNet's is 3.4 GB); each
     * component draws from its own seed so changing one never changes another.
     */
    private static void writeWeights(Path file, Map<String, long[]> shapes, Map<String, Float> constants, long seed, String component)
            throws IOException {
        Files.createDirectories(file.getParent());
        long componentSeed = RandomInit.mix(seed, component);
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt")
                .metadata("cyclediffusion", "random weights, seed " + seed + " (RandomModel)");
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue();
            Float constant = constants.get(name);
            w.add(name, SafetensorsDType.F32, shape, constant != null
                    ? out -> RandomInit.writeConstant(shape, constant, out)
                    : out -> RandomInit.writeF32(name, shape, componentSeed, out));
        }
        w.write(file);
        // so the first edit reads it back in 2 MiB pages (ResidentPages.adviseHugePages): 1.3-1.8 s less per edit
        ResidentPages.dropFromPageCache(file);
    }

    private static JsonNode reference() {
        try (InputStream in = resource(RESOURCES + "full_size_configs.json")) {
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code name} relative to this class's package, or absolute with a leading slash. */
    private static InputStream resource(String name) {
        InputStream in = RandomModel.class.getResourceAsStream(name);
        if (in == null) {
            throw new IllegalStateException("resource " + name + " missing from the class path (LibTorch backend or core jar)");
        }
        return in;
    }

    private static void writeJson(Path file, JsonNode node) throws IOException {
        Files.createDirectories(file.getParent());
        byte[] bytes = JSON.writeValueAsBytes(node);
        AtomicFiles.write(file, out -> out.write(bytes));
    }

    private static void copyResource(String name, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        AtomicFiles.write(file, out -> {
            try (InputStream in = resource(name)) {
                in.transferTo(out);
            }
        });
    }

    private static boolean isEmptyDirectory(Path p) {
        if (!Files.isDirectory(p)) {
            return false;
        }
        try (Stream<Path> s = Files.list(p)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    private static void deleteQuietly(Path p, Throwable cause) {
        try {
            deleteRecursively(p);
        } catch (IOException suppressed) {
            cause.addSuppressed(suppressed);
        }
    }
}
