package org.cyclediffusion.core.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.io.SafetensorsWriter;
import org.cyclediffusion.core.tensor.FloatTensor;

/**
 * The DPM-Encoder's latent code of a batch of images (Wu and De la Torre 2022, §3): the start
 * latents x_T' and the noise z_t recovered at every step, which make the stochastic sampler that
 * produced them reproduce the images, and make any model that shares the latent space and the
 * noise schedule translate them under its own prompts.
 *
 * <p>Row {@code i·n + k} is copy k of edit row i ({@code n = numImagesPerPrompt}), as in an edit.
 *
 * @param scheduler             {@code _class_name} of the sampler that produced the code
 * @param noiseSchedule         that sampler's {@code noiseScheduleDigest} (training betas)
 * @param schedulerConfig       that sampler's {@code configDigest}
 * @param timesteps             the timesteps run, one per noise, in order
 * @param numInferenceSteps     steps of the full schedule
 * @param strength              the fraction of it that ran
 * @param eta                   the sampler's stochasticity option
 * @param startLatents          x_T' [N, C, h, w]
 * @param noises                z_t stacked [steps, N, C, h, w], step order
 * @param imageHeight           pixel height of the encoded images
 * @param imageWidth            pixel width
 * @param rows                  edit rows (N / numImagesPerPrompt)
 * @param numImagesPerPrompt    copies per row
 * @param vaeScalingFactor      the VAE scaling factor of the latent space
 * @param model                 the model that encoded, as its description
 * @param parameters            the encode parameters, in diffusers' names (JSON object)
 */
public record LatentCode(String scheduler, String noiseSchedule, String schedulerConfig, int[] timesteps, int numInferenceSteps,
        double strength, double eta, FloatTensor startLatents, FloatTensor noises, int imageHeight, int imageWidth, int rows,
        int numImagesPerPrompt, float vaeScalingFactor, String model, ObjectNode parameters) {

    /** The {@code format} metadata value of a code file. */
    public static final String FORMAT = "cyclediffusion-latent-code";
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    public LatentCode {
        Objects.requireNonNull(scheduler, "scheduler");
        Objects.requireNonNull(startLatents, "startLatents");
        Objects.requireNonNull(noises, "noises");
        timesteps = timesteps.clone();
        parameters = parameters == null ? JSON.createObjectNode() : parameters.deepCopy();
        if (startLatents.rank() != 4) {
            throw new IllegalArgumentException("startLatents: expected [N, C, h, w], found " + startLatents);
        }
        int[] expected = new int[5];
        expected[0] = timesteps.length;
        System.arraycopy(startLatents.shape(), 0, expected, 1, 4);
        if (!Arrays.equals(noises.shape(), expected)) {
            throw new IllegalArgumentException("noises: expected " + Arrays.toString(expected) + " (one z_t per timestep, shaped as the start"
                    + " latents), found " + Arrays.toString(noises.shape()));
        }
        if (rows * numImagesPerPrompt != startLatents.dim(0)) {
            throw new IllegalArgumentException("rows " + rows + " × numImagesPerPrompt " + numImagesPerPrompt + " != " + startLatents.dim(0)
                    + " latent rows");
        }
    }

    @Override
    public int[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public ObjectNode parameters() {
        return parameters.deepCopy();
    }

    /** Number of steps (= number of z_t). */
    public int steps() {
        return timesteps.length;
    }

    /** z_t of step {@code i} (0 is the first step run), [N, C, h, w]. */
    public FloatTensor noise(int i) {
        int per = startLatents.size();
        return new FloatTensor(Arrays.copyOfRange(noises.data(), i * per, (i + 1) * per), startLatents.shape());
    }

    /** Latent rows N. */
    public int batch() {
        return startLatents.dim(0);
    }

    /** Writes the code atomically: tensors {@code start_latents}, {@code noises}, {@code timesteps}, the rest as {@code __metadata__}. */
    public void save(Path file) {
        long[] ts = new long[timesteps.length];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = timesteps[i];
        }
        new SafetensorsWriter()
                .metadata("format", FORMAT)
                .metadata("version", Integer.toString(VERSION))
                .metadata("scheduler", scheduler)
                .metadata("noise_schedule", noiseSchedule)
                .metadata("scheduler_config", schedulerConfig)
                .metadata("num_inference_steps", Integer.toString(numInferenceSteps))
                .metadata("strength", Double.toString(strength))
                .metadata("eta", Double.toString(eta))
                .metadata("image_height", Integer.toString(imageHeight))
                .metadata("image_width", Integer.toString(imageWidth))
                .metadata("rows", Integer.toString(rows))
                .metadata("num_images_per_prompt", Integer.toString(numImagesPerPrompt))
                .metadata("vae_scaling_factor", Float.toString(vaeScalingFactor))
                .metadata("model", model)
                .metadata("parameters", parameters.toString())
                .f32("start_latents", startLatents)
                .f32("noises", noises)
                .i64("timesteps", new long[] {ts.length}, ts)
                .write(file);
    }

    /** Reads a code written by {@link #save}; anything missing or inconsistent fails naming the file and the field. */
    public static LatentCode load(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            Map<String, String> m = f.metadata();
            String format = m.get("format");
            if (!FORMAT.equals(format)) {
                throw new ConfigException(file + ": not a latent code (metadata format = " + format + ", expected " + FORMAT
                        + "; make one with `cyclediffusion encode`)");
            }
            int version = intField(file, m, "version");
            if (version != VERSION) {
                throw new ConfigException(file + ": latent code version " + version + ", this build reads version " + VERSION);
            }
            long[] ts = f.longs("timesteps");
            int[] timesteps = new int[ts.length];
            for (int i = 0; i < ts.length; i++) {
                timesteps[i] = Math.toIntExact(ts[i]);
            }
            ObjectNode parameters;
            try {
                JsonNode p = JSON.readTree(field(file, m, "parameters"));
                if (!(p instanceof ObjectNode o)) {
                    throw new ConfigException(file + ": metadata parameters is not a JSON object");
                }
                parameters = o;
            } catch (JsonProcessingException e) {
                throw new ConfigException(file + ": metadata parameters is not valid JSON (" + e.getOriginalMessage() + ")", e);
            }
            try {
                return new LatentCode(field(file, m, "scheduler"), field(file, m, "noise_schedule"), field(file, m, "scheduler_config"),
                        timesteps, intField(file, m, "num_inference_steps"), doubleField(file, m, "strength"), doubleField(file, m, "eta"),
                        f.floatTensor("start_latents"), f.floatTensor("noises"), intField(file, m, "image_height"),
                        intField(file, m, "image_width"), intField(file, m, "rows"), intField(file, m, "num_images_per_prompt"),
                        (float) doubleField(file, m, "vae_scaling_factor"), field(file, m, "model"), parameters);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(file + ": inconsistent latent code: " + e.getMessage(), e);
            }
        }
    }

    private static String field(Path file, Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new ConfigException(file + ": latent code metadata has no '" + key + "'");
        }
        return v;
    }

    private static int intField(Path file, Map<String, String> m, String key) {
        String v = field(file, m, key);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new ConfigException(file + ": latent code metadata '" + key + "' = '" + v + "', expected an integer");
        }
    }

    private static double doubleField(Path file, Map<String, String> m, String key) {
        String v = field(file, m, key);
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new ConfigException(file + ": latent code metadata '" + key + "' = '" + v + "', expected a number");
        }
    }
}
