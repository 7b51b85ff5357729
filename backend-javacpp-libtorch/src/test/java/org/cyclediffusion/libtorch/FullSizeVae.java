package org.cyclediffusion.libtorch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.io.SafetensorsDType;
import org.cyclediffusion.core.io.SafetensorsWriter;

/**
 * A folder holding only {@code vae/} of full-size SD (83.7 M parameters, 335 MB float32) with
 * {@link RandomInit}'s seeded random weights, written in about a second: what the VAE memory test
 * and probe need without writing the whole 5 GB model.
 */
final class FullSizeVae {
    private FullSizeVae() {
    }

    static Path write(Path root) {
        try (InputStream in = RandomModel.class.getResourceAsStream("randommodel/full_size_configs.json")) {
            ObjectMapper json = new ObjectMapper();
            ObjectNode config = json.createObjectNode().put("_class_name", "AutoencoderKL").put("_diffusers_version", "0.23.0");
            config.setAll((ObjectNode) json.readTree(in).get("sd_vae").get("config"));
            Path vae = Files.createDirectories(root.resolve("vae"));
            Files.writeString(root.resolve("model_index.json"), "{\"_class_name\": \"StableDiffusionPipeline\", \"vae\": [\"diffusers\", \"AutoencoderKL\"]}");
            Files.write(vae.resolve("config.json"), json.writeValueAsBytes(config));
            Map<String, long[]> shapes = AutoencoderKL.expectedShapes(new JsonConfig(config.deepCopy(), "vae").quietCopy());
            SafetensorsWriter w = new SafetensorsWriter();
            shapes.forEach((name, shape) -> w.add(name, SafetensorsDType.F32, shape, out -> RandomInit.writeF32(name, shape, 0, out)));
            w.write(vae.resolve("diffusion_pytorch_model.safetensors"));
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
