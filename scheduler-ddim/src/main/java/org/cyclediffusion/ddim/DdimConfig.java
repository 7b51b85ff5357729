package org.cyclediffusion.ddim;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.spi.PredictionType;

/**
 * The constructor arguments of diffusers v0.23.0 {@code DDIMScheduler}, i.e. the fields of
 * {@code scheduler/scheduler_config.json}. {@link #DEFAULTS} holds diffusers' defaults, which apply
 * to every key a file leaves out (Stable Diffusion's files override several of them).
 *
 * @param trainedBetas explicit betas overriding the schedule, or null
 */
public record DdimConfig(
        int numTrainTimesteps,
        double betaStart,
        double betaEnd,
        BetaSchedule betaSchedule,
        double[] trainedBetas,
        boolean clipSample,
        double clipSampleRange,
        boolean setAlphaToOne,
        int stepsOffset,
        PredictionType predictionType,
        boolean thresholding,
        double dynamicThresholdingRatio,
        double sampleMaxValue,
        TimestepSpacing timestepSpacing,
        boolean rescaleBetasZeroSnr) {

    /** diffusers' defaults, the signature of {@code DDIMScheduler.__init__}. */
    public static final DdimConfig DEFAULTS = new DdimConfig(1000, 0.0001, 0.02, BetaSchedule.LINEAR, null, true, 1.0, true, 0,
            PredictionType.EPSILON, false, 0.995, 1.0, TimestepSpacing.LEADING, false);

    /**
     * Keys that diffusers' scheduler configs carry and {@code DDIMScheduler} accepts and ignores
     * (those of the schedulers it is {@code _compatibles} with, e.g. PNDM's {@code skip_prk_steps}).
     * Keys starting with {@code _} ({@code _class_name}, {@code _diffusers_version}) are never reported.
     */
    public static final Set<String> IGNORED_KEYS = Set.of(
            "_class_name", "_diffusers_version",
            "skip_prk_steps", "variance_type", "use_karras_sigmas", "solver_order", "algorithm_type", "solver_type",
            "lower_order_final", "interpolation_type", "timestep_type", "predict_x0", "disable_corrector",
            "solver_p", "lambda_min_clipped", "variance_tensor", "euler_at_final", "use_lu_lambdas", "noise_sampler_seed");

    public DdimConfig {
        Objects.requireNonNull(betaSchedule, "betaSchedule");
        Objects.requireNonNull(predictionType, "predictionType");
        Objects.requireNonNull(timestepSpacing, "timestepSpacing");
        trainedBetas = trainedBetas == null ? null : trainedBetas.clone();
        if (numTrainTimesteps < 1) {
            throw new IllegalArgumentException("numTrainTimesteps must be at least 1, found " + numTrainTimesteps);
        }
        if (trainedBetas != null && trainedBetas.length != numTrainTimesteps) {
            throw new IllegalArgumentException("trainedBetas has " + trainedBetas.length + " values, numTrainTimesteps is "
                    + numTrainTimesteps);
        }
    }

    /** The explicit betas, a copy, when the config has {@code trained_betas}. */
    @Override
    public double[] trainedBetas() {
        return trainedBetas == null ? null : trainedBetas.clone();
    }

    /**
     * Reads a {@code DDIMScheduler} config, taking diffusers' default for every missing key, and
     * warns once (naming the file) about keys DDIM does not know.
     *
     * @throws ConfigException naming the file, the field, the value and what is accepted, for any
     *                         value we do not implement or that cannot work
     */
    public static DdimConfig from(JsonConfig config) {
        DdimConfig d = DEFAULTS;
        int numTrainTimesteps = config.getInt("num_train_timesteps", d.numTrainTimesteps);
        if (numTrainTimesteps < 1) {
            throw config.unsupported("num_train_timesteps", numTrainTimesteps, "an integer of at least 1");
        }
        double betaStart = config.getDouble("beta_start", d.betaStart);
        requireBeta(config, "beta_start", betaStart);
        double betaEnd = config.getDouble("beta_end", d.betaEnd);
        requireBeta(config, "beta_end", betaEnd);
        String scheduleName = config.getString("beta_schedule", d.betaSchedule.configName());
        BetaSchedule schedule = BetaSchedule.parse(scheduleName)
                .orElseThrow(() -> config.unsupported("beta_schedule", "'" + scheduleName + "'", BetaSchedule.ACCEPTED));
        double[] trainedBetas = config.getDoubleArray("trained_betas").orElse(null);
        if (trainedBetas != null) {
            if (trainedBetas.length != numTrainTimesteps) {
                throw config.unsupported("trained_betas", "a list of " + trainedBetas.length + " values",
                        "num_train_timesteps = " + numTrainTimesteps + " values");
            }
            for (double b : trainedBetas) {
                requireBeta(config, "trained_betas", b);
            }
        }
        boolean clipSample = config.getBoolean("clip_sample", d.clipSample);
        double clipSampleRange = config.getDouble("clip_sample_range", d.clipSampleRange);
        if (!(clipSampleRange > 0) || !Double.isFinite(clipSampleRange)) {
            throw config.unsupported("clip_sample_range", clipSampleRange, "a positive finite number");
        }
        boolean setAlphaToOne = config.getBoolean("set_alpha_to_one", d.setAlphaToOne);
        int stepsOffset = config.getInt("steps_offset", d.stepsOffset);
        if (stepsOffset < 0 || stepsOffset >= numTrainTimesteps) {
            throw config.unsupported("steps_offset", stepsOffset, "an integer in [0, num_train_timesteps)");
        }
        String predictionName = config.getString("prediction_type", d.predictionType.configName());
        PredictionType predictionType = parsePrediction(predictionName)
                .orElseThrow(() -> config.unsupported("prediction_type", "'" + predictionName + "'", "epsilon, v_prediction or sample"));
        boolean thresholding = config.getBoolean("thresholding", d.thresholding);
        double ratio = config.getDouble("dynamic_thresholding_ratio", d.dynamicThresholdingRatio);
        if (!(ratio >= 0 && ratio <= 1)) {
            throw config.unsupported("dynamic_thresholding_ratio", ratio, "a quantile in [0, 1]");
        }
        double sampleMaxValue = config.getDouble("sample_max_value", d.sampleMaxValue);
        if (!(sampleMaxValue > 0) || !Double.isFinite(sampleMaxValue)) {
            throw config.unsupported("sample_max_value", sampleMaxValue, "a positive finite number");
        }
        String spacingName = config.getString("timestep_spacing", d.timestepSpacing.configName());
        TimestepSpacing spacing = TimestepSpacing.parse(spacingName)
                .orElseThrow(() -> config.unsupported("timestep_spacing", "'" + spacingName + "'", TimestepSpacing.ACCEPTED));
        boolean rescale = config.getBoolean("rescale_betas_zero_snr", d.rescaleBetasZeroSnr);
        config.warnUnknownKeys(IGNORED_KEYS);
        return new DdimConfig(numTrainTimesteps, betaStart, betaEnd, schedule, trainedBetas, clipSample, clipSampleRange,
                setAlphaToOne, stepsOffset, predictionType, thresholding, ratio, sampleMaxValue, spacing, rescale);
    }

    /** The effective configuration in diffusers' key names (every default filled in), as {@code scheduler.config}. */
    public ObjectNode toJson() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("num_train_timesteps", numTrainTimesteps);
        n.put("beta_start", betaStart);
        n.put("beta_end", betaEnd);
        n.put("beta_schedule", betaSchedule.configName());
        if (trainedBetas == null) {
            n.putNull("trained_betas");
        } else {
            ArrayNode a = n.putArray("trained_betas");
            for (double b : trainedBetas) {
                a.add(b);
            }
        }
        n.put("clip_sample", clipSample);
        n.put("clip_sample_range", clipSampleRange);
        n.put("set_alpha_to_one", setAlphaToOne);
        n.put("steps_offset", stepsOffset);
        n.put("prediction_type", predictionType.configName());
        n.put("thresholding", thresholding);
        n.put("dynamic_thresholding_ratio", dynamicThresholdingRatio);
        n.put("sample_max_value", sampleMaxValue);
        n.put("timestep_spacing", timestepSpacing.configName());
        n.put("rescale_betas_zero_snr", rescaleBetasZeroSnr);
        return n;
    }

    private static Optional<PredictionType> parsePrediction(String text) {
        for (PredictionType p : PredictionType.values()) {
            if (p.configName().equals(text)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private static void requireBeta(JsonConfig config, String key, double beta) {
        // A beta of 1 is legitimate (zero terminal SNR); negative ones make scaled_linear's sqrt NaN.
        if (!(beta >= 0 && beta <= 1)) {
            throw config.unsupported(key, beta, "betas in [0, 1]");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DdimConfig c && numTrainTimesteps == c.numTrainTimesteps
                && Double.compare(betaStart, c.betaStart) == 0 && Double.compare(betaEnd, c.betaEnd) == 0
                && betaSchedule == c.betaSchedule && Arrays.equals(trainedBetas, c.trainedBetas)
                && clipSample == c.clipSample && Double.compare(clipSampleRange, c.clipSampleRange) == 0
                && setAlphaToOne == c.setAlphaToOne && stepsOffset == c.stepsOffset && predictionType == c.predictionType
                && thresholding == c.thresholding && Double.compare(dynamicThresholdingRatio, c.dynamicThresholdingRatio) == 0
                && Double.compare(sampleMaxValue, c.sampleMaxValue) == 0 && timestepSpacing == c.timestepSpacing
                && rescaleBetasZeroSnr == c.rescaleBetasZeroSnr;
    }

    @Override
    public int hashCode() {
        return Objects.hash(numTrainTimesteps, betaStart, betaEnd, betaSchedule, Arrays.hashCode(trainedBetas), clipSample,
                clipSampleRange, setAlphaToOne, stepsOffset, predictionType, thresholding, dynamicThresholdingRatio,
                sampleMaxValue, timestepSpacing, rescaleBetasZeroSnr);
    }

    @Override
    public String toString() {
        return "DdimConfig[numTrainTimesteps=" + numTrainTimesteps + ", betaStart=" + betaStart + ", betaEnd=" + betaEnd
                + ", betaSchedule=" + betaSchedule.configName()
                + ", trainedBetas=" + (trainedBetas == null ? "null" : trainedBetas.length + " values")
                + ", clipSample=" + clipSample + ", clipSampleRange=" + clipSampleRange + ", setAlphaToOne=" + setAlphaToOne
                + ", stepsOffset=" + stepsOffset + ", predictionType=" + predictionType.configName()
                + ", thresholding=" + thresholding + ", dynamicThresholdingRatio=" + dynamicThresholdingRatio
                + ", sampleMaxValue=" + sampleMaxValue + ", timestepSpacing=" + timestepSpacing.configName()
                + ", rescaleBetasZeroSnr=" + rescaleBetasZeroSnr + "]";
    }
}
