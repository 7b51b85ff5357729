package org.cyclediffusion.ddim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.logging.LogRecord;
import org.cyclediffusion.core.config.ConfigException;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.config.ModelFolder;
import org.cyclediffusion.core.spi.PredictionType;
import org.cyclediffusion.core.testing.LogCapture;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DdimConfigTest {
    /** What JsonConfig logs about unknown keys. */
    private LogCapture log;

    @BeforeEach
    void listen() {
        log = LogCapture.of(JsonConfig.class);
    }

    @AfterEach
    void stopListening() {
        log.close();
    }

    private static DdimConfig parse(String json) {
        return DdimConfig.from(JsonConfig.parse(json, "test/scheduler_config.json"));
    }

    @Test
    void tinySdIsStableDiffusionsScheduler() {
        JsonConfig json = ModelFolder.open(Fixtures.model("tiny-sd")).config("scheduler", "scheduler_config.json");
        DdimConfig c = DdimConfig.from(json);
        assertEquals(1000, c.numTrainTimesteps());
        assertEquals(0.00085, c.betaStart());
        assertEquals(0.012, c.betaEnd());
        assertEquals(BetaSchedule.SCALED_LINEAR, c.betaSchedule());
        assertNull(c.trainedBetas());
        assertFalse(c.clipSample());
        assertFalse(c.setAlphaToOne());
        assertEquals(1, c.stepsOffset());
        assertEquals(PredictionType.EPSILON, c.predictionType());
        // keys the file leaves out take diffusers' defaults
        assertEquals(TimestepSpacing.LEADING, c.timestepSpacing());
        assertFalse(c.thresholding());
        assertEquals(0.995, c.dynamicThresholdingRatio());
        assertEquals(1.0, c.clipSampleRange());
        assertEquals(1.0, c.sampleMaxValue());
        assertFalse(c.rescaleBetasZeroSnr());
        assertTrue(log.records().isEmpty(), "skip_prk_steps and _diffusers_version are known keys: " + messages());
    }

    @Test
    void tinySd2IsVPrediction() {
        JsonConfig json = ModelFolder.open(Fixtures.model("tiny-sd2")).config("scheduler", "scheduler_config.json");
        DdimConfig c = DdimConfig.from(json);
        assertEquals(PredictionType.V_PREDICTION, c.predictionType());
        assertEquals(BetaSchedule.SCALED_LINEAR, c.betaSchedule());
        assertEquals(1, c.stepsOffset());
        assertTrue(log.records().isEmpty(), messages());
    }

    @Test
    void emptyConfigIsDiffusersDefaults() {
        DdimConfig c = parse("{}");
        assertEquals(DdimConfig.DEFAULTS, c);
        assertEquals(1000, c.numTrainTimesteps());
        assertEquals(0.0001, c.betaStart());
        assertEquals(0.02, c.betaEnd());
        assertEquals(BetaSchedule.LINEAR, c.betaSchedule());
        assertTrue(c.clipSample());
        assertTrue(c.setAlphaToOne());
        assertEquals(0, c.stepsOffset());
    }

    @Test
    void everyFieldIsRead() {
        DdimConfig c = parse("""
                {"num_train_timesteps": 4, "beta_start": 0.1, "beta_end": 0.2, "beta_schedule": "squaredcos_cap_v2",
                 "trained_betas": [0.1, 0.2, 0.3, 0.4], "clip_sample": false, "clip_sample_range": 2.5,
                 "set_alpha_to_one": false, "steps_offset": 2, "prediction_type": "sample", "thresholding": true,
                 "dynamic_thresholding_ratio": 0.9, "sample_max_value": 3.0, "timestep_spacing": "trailing",
                 "rescale_betas_zero_snr": true}""");
        assertEquals(4, c.numTrainTimesteps());
        assertEquals(0.1, c.betaStart());
        assertEquals(0.2, c.betaEnd());
        assertEquals(BetaSchedule.SQUAREDCOS_CAP_V2, c.betaSchedule());
        assertArrayEquals(new double[] {0.1, 0.2, 0.3, 0.4}, c.trainedBetas());
        assertFalse(c.clipSample());
        assertEquals(2.5, c.clipSampleRange());
        assertFalse(c.setAlphaToOne());
        assertEquals(2, c.stepsOffset());
        assertEquals(PredictionType.SAMPLE, c.predictionType());
        assertTrue(c.thresholding());
        assertEquals(0.9, c.dynamicThresholdingRatio());
        assertEquals(3.0, c.sampleMaxValue());
        assertEquals(TimestepSpacing.TRAILING, c.timestepSpacing());
        assertTrue(c.rescaleBetasZeroSnr());
        assertTrue(log.records().isEmpty(), messages());
    }

    @Test
    void unknownKeysGiveOneWarningNamingTheFile() {
        DdimConfig c = parse("""
                {"_class_name": "DDIMScheduler", "_diffusers_version": "0.23.0", "skip_prk_steps": true,
                 "beta_schedule": "scaled_linear", "karras_magic": 3, "timestep_sapcing": "trailing"}""");
        assertEquals(BetaSchedule.SCALED_LINEAR, c.betaSchedule());
        assertEquals(1, log.records().size(), messages());
        String m = log.records().get(0).getMessage();
        assertTrue(m.contains("test/scheduler_config.json"), m);
        assertTrue(m.contains("karras_magic") && m.contains("timestep_sapcing"), m);
        assertFalse(m.contains("skip_prk_steps"), m);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "beta_schedule        | \"cosine\"         | 'cosine'  | linear, scaled_linear or squaredcos_cap_v2",
        "prediction_type      | \"v\"                | 'v'       | epsilon, v_prediction or sample",
        "prediction_type      | \"EPSILON\"          | 'EPSILON' | epsilon, v_prediction or sample",
        "timestep_spacing     | \"karras\"           | 'karras'  | leading, trailing or linspace",
        "num_train_timesteps  | 0                    | 0         | at least 1",
        "beta_start           | -0.001               | -0.001    | betas in [0, 1]",
        "beta_end             | 1.5                  | 1.5       | betas in [0, 1]",
        "clip_sample_range    | 0                    | 0.0       | positive",
        "steps_offset         | -1                   | -1        | [0, num_train_timesteps)",
        "steps_offset         | 1000                 | 1000      | [0, num_train_timesteps)",
        "dynamic_thresholding_ratio | 1.5            | 1.5       | [0, 1]",
        "sample_max_value     | -1                   | -1.0      | positive",
    })
    void unsupportedValuesNameFileFieldValueAndWhatIsAccepted(String key, String json, String shown, String accepted) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{\"" + key + "\": " + json + "}"));
        String m = e.getMessage();
        assertTrue(m.contains("test/scheduler_config.json"), m);
        assertTrue(m.contains(key + " = " + shown), m);
        assertTrue(m.contains(accepted), m);
    }

    @Test
    void trainedBetasMustCoverEveryTrainingTimestep() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> parse("{\"num_train_timesteps\": 3, \"trained_betas\": [0.1, 0.2]}"));
        assertTrue(e.getMessage().contains("trained_betas") && e.getMessage().contains("3"), e.getMessage());
        ConfigException range = assertThrows(ConfigException.class,
                () -> parse("{\"num_train_timesteps\": 2, \"trained_betas\": [0.1, 1.2]}"));
        assertTrue(range.getMessage().contains("trained_betas = 1.2"), range.getMessage());
    }

    @Test
    void wrongTypesNameTheField() {
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{\"num_train_timesteps\": \"1000\"}"));
        assertTrue(e.getMessage().contains("num_train_timesteps") && e.getMessage().contains("integer"), e.getMessage());
        ConfigException b = assertThrows(ConfigException.class, () -> parse("{\"clip_sample\": 1}"));
        assertTrue(b.getMessage().contains("clip_sample"), b.getMessage());
        ConfigException s = assertThrows(ConfigException.class, () -> parse("{\"prediction_type\": 1}"));
        assertTrue(s.getMessage().contains("prediction_type"), s.getMessage());
    }

    @Test
    void recordRejectsInconsistentValues() {
        assertThrows(IllegalArgumentException.class, () -> new DdimConfig(0, 0.1, 0.2, BetaSchedule.LINEAR, null, true, 1, true,
                0, PredictionType.EPSILON, false, 0.995, 1, TimestepSpacing.LEADING, false));
        assertThrows(IllegalArgumentException.class, () -> new DdimConfig(3, 0.1, 0.2, BetaSchedule.LINEAR, new double[2], true,
                1, true, 0, PredictionType.EPSILON, false, 0.995, 1, TimestepSpacing.LEADING, false));
        double[] betas = {0.1, 0.2};
        DdimConfig c = new DdimConfig(2, 0.1, 0.2, BetaSchedule.LINEAR, betas, true, 1, true, 0, PredictionType.EPSILON, false,
                0.995, 1, TimestepSpacing.LEADING, false);
        betas[0] = 0.9;
        assertEquals(0.1, c.trainedBetas()[0], "defensive copy");
    }

    private String messages() {
        return log.records().stream().map(LogRecord::getMessage).toList().toString();
    }
}
