package org.cyclediffusion.core.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.cyclediffusion.core.testing.LogCapture;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class JsonConfigTest {
    private static final String SRC = "unet/config.json";

    @TempDir
    Path dir;

    /** What JsonConfig logs, kept off the console. */
    private LogCapture log;

    @BeforeEach
    void captureLog() {
        log = LogCapture.of(JsonConfig.class);
    }

    @AfterEach
    void releaseLog() {
        log.close();
    }

    private static JsonConfig cfg(String json) {
        return JsonConfig.parse(json, SRC);
    }

    private static void failsNaming(Executable call, String... fragments) {
        ConfigException e = assertThrows(ConfigException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message should contain '" + f + "': " + e.getMessage());
        }
    }

    @Test
    void typedAccessorsReadValuesAndAbsentKeysTakeTheDefault() {
        JsonConfig c = cfg("{\"in_channels\": 4, \"norm_eps\": 1e-05, \"center_input_sample\": true, \"act_fn\": \"silu\","
                + " \"block_out_channels\": [32, 64, 64], \"betas\": [0.5, 1, 2.5], \"types\": [\"A\", \"B\"], \"scale\": 2}");
        assertEquals(4, c.getInt("in_channels", -1));
        assertEquals(1e-5, c.getDouble("norm_eps", 0));
        assertEquals(2.0, c.getDouble("scale", 0), "an integer is a valid number");
        assertTrue(c.getBoolean("center_input_sample", false));
        assertEquals("silu", c.getString("act_fn", "gelu"));
        assertArrayEquals(new int[] {32, 64, 64}, c.getIntArray("block_out_channels").orElseThrow());
        assertArrayEquals(new double[] {0.5, 1, 2.5}, c.getDoubleArray("betas").orElseThrow());
        assertEquals(List.of("A", "B"), c.getStringList("types").orElseThrow());

        assertEquals(320, c.getInt("absent_int", 320));
        assertEquals(0.18215, c.getDouble("absent_double", 0.18215));
        assertFalse(c.getBoolean("absent_bool", false));
        assertEquals("epsilon", c.getString("absent_string", "epsilon"));
        assertTrue(c.getIntArray("absent").isEmpty());
        assertTrue(c.getObject("absent").isEmpty());
        assertTrue(c.has("in_channels") && !c.has("absent_int"));
        assertEquals(SRC, c.source());
    }

    @Test
    void nullMeansDefaultAsInDiffusers() {
        JsonConfig c = cfg("{\"num_attention_heads\": null, \"trained_betas\": null, \"addition_embed_type\": null,"
                + " \"upcast\": null, \"eps\": null, \"vision_config\": null, \"names\": null}");
        assertEquals(8, c.getInt("num_attention_heads", 8));
        assertTrue(c.getDoubleArray("trained_betas").isEmpty());
        assertEquals("none", c.getString("addition_embed_type", "none"));
        assertTrue(c.getBoolean("upcast", true));
        assertEquals(1e-6, c.getDouble("eps", 1e-6));
        assertTrue(c.getObject("vision_config").isEmpty());
        assertTrue(c.getStringList("names").isEmpty());
        assertFalse(c.has("num_attention_heads"), "a null value is not 'present'");
        assertEquals(List.of(), c.unreadKeys(), "null keys that were asked for count as read");
    }

    @Test
    void wrongTypesNameFileKeyExpectationAndValue() {
        JsonConfig c = cfg("{\"i\": \"8\", \"f\": 1.5, \"big\": 3000000000, \"d\": \"x\", \"b\": 1, \"s\": 5,"
                + " \"l\": \"a\", \"ld\": [1, \"a\"], \"li\": [1, 2.5], \"ls\": [\"a\", 1], \"o\": 3, \"lb\": [4, 3000000000]}");
        failsNaming(() -> c.getInt("i", 0), SRC, "i must be an integer", "found \"8\"");
        failsNaming(() -> c.getInt("f", 0), SRC, "f must be an integer", "found 1.5");
        failsNaming(() -> c.getInt("big", 0), SRC, "big must be an integer", "3000000000");
        failsNaming(() -> c.getDouble("d", 0), SRC, "d must be a number", "\"x\"");
        failsNaming(() -> c.getBoolean("b", false), SRC, "b must be true or false", "found 1");
        failsNaming(() -> c.getString("s", ""), SRC, "s must be a string", "found 5");
        failsNaming(() -> c.getIntArray("l"), SRC, "l must be a list of integers", "\"a\"");
        failsNaming(() -> c.getDoubleArray("ld"), SRC, "ld must be a list of numbers", "[1,\"a\"]");
        failsNaming(() -> c.getIntArray("li"), SRC, "li must be a list of integers", "[1,2.5]");
        failsNaming(() -> c.getStringList("ls"), SRC, "ls must be a list of strings", "[\"a\",1]");
        failsNaming(() -> c.getObject("o"), SRC, "o must be an object", "found 3");
        failsNaming(() -> c.getIntArray("lb"), SRC, "lb must be a list of integers");
    }

    @Test
    void attentionHeadDimIsAnIntOrAList() {
        // SD 1.x writes 8; SD 2.x writes one per down block.
        assertArrayEquals(new int[] {8}, cfg("{\"attention_head_dim\": 8}").getIntArray("attention_head_dim").orElseThrow());
        assertArrayEquals(new int[] {2, 4, 4}, cfg("{\"attention_head_dim\": [2, 4, 4]}").getIntArray("attention_head_dim").orElseThrow());
        JsonConfig sd = JsonConfig.read(Fixtures.model("tiny-sd/unet/config.json"));
        JsonConfig sd2 = JsonConfig.read(Fixtures.model("tiny-sd2/unet/config.json"));
        assertArrayEquals(new int[] {8}, sd.getIntArray("attention_head_dim").orElseThrow());
        assertArrayEquals(new int[] {2, 4, 4}, sd2.getIntArray("attention_head_dim").orElseThrow());
        assertEquals(1e-5, sd.getDouble("norm_eps", 0));
        assertArrayEquals(new int[] {32, 64, 64}, sd.getIntArray("block_out_channels").orElseThrow());
        assertEquals("none", sd.getString("addition_embed_type", "none"), "null in the file");
        assertTrue(sd.getString("num_attention_heads", null) == null);
    }

    @Test
    void nestedObjectsNameTheirPath() {
        JsonConfig c = cfg("{\"vision_config\": {\"hidden_size\": \"32\", \"inner\": {\"flag\": 1}, \"layers\": 3}, \"projection_dim\": 16}");
        JsonConfig vision = c.getObject("vision_config").orElseThrow();
        assertEquals(SRC + " → vision_config", vision.source());
        assertEquals(3, vision.getInt("layers", 0));
        failsNaming(() -> vision.getInt("hidden_size", 0), SRC + " → vision_config: hidden_size must be an integer");
        JsonConfig inner = vision.getObject("inner").orElseThrow();
        failsNaming(() -> inner.getBoolean("flag", false), SRC + " → vision_config → inner: flag must be true or false");
        // Each level tracks its own reads; the parent counts the nested key as read.
        assertEquals(List.of("projection_dim"), c.unreadKeys());
        assertEquals(List.of(), vision.unreadKeys(), "hidden_size and inner were asked for (even though one failed)");

        JsonConfig clip = JsonConfig.read(Fixtures.model("tiny-sd/safety_checker/config.json"));
        JsonConfig v = clip.getObject("vision_config").orElseThrow();
        assertTrue(v.source().endsWith("config.json → vision_config"), v.source());
        assertEquals(3, v.getInt("num_hidden_layers", 12));
        assertEquals(32, v.getInt("hidden_size", 768));
        assertEquals(224, v.getInt("image_size", 224), "transformers' default where the file is silent");
    }

    @Test
    void unreadKeysListWhatNobodyAskedForInFileOrderSkippingPrivateKeys() {
        JsonConfig c = JsonConfig.read(Fixtures.model("tiny-sd/scheduler/scheduler_config.json"));
        c.getInt("num_train_timesteps", 1000);
        c.getDouble("beta_start", 0.0001);
        c.getDouble("beta_end", 0.02);
        c.getString("beta_schedule", "linear");
        c.getDoubleArray("trained_betas");
        c.getBoolean("clip_sample", true);
        c.getBoolean("set_alpha_to_one", true);
        c.getInt("steps_offset", 0);
        c.getString("prediction_type", "epsilon");
        c.getString("timestep_spacing", "leading"); // asked for, absent: not listed
        assertEquals(List.of("skip_prk_steps"), c.unreadKeys(), "_class_name and _diffusers_version are private");
    }

    @Test
    void warnUnknownKeysLogsOnceNamingFileAndKeysExceptTheIgnoredOnes() {
        JsonConfig c = cfg("{\"_class_name\": \"DDIMScheduler\", \"used\": 1, \"skip_prk_steps\": true, \"typo_steps\": 3, \"other\": null}");
        c.getInt("used", 0);
        List<String> warned = c.warnUnknownKeys(Set.of("skip_prk_steps"));
        assertEquals(List.of("typo_steps", "other"), warned);
        assertEquals(1, log.records().size());
        LogRecord r = log.records().get(0);
        assertEquals(Level.WARNING, r.getLevel());
        assertTrue(r.getMessage().contains(SRC) && r.getMessage().contains("typo_steps") && !r.getMessage().contains("skip_prk_steps"),
                r.getMessage());

        log.clear();
        JsonConfig clean = cfg("{\"used\": 1}");
        clean.getInt("used", 0);
        assertEquals(List.of(), clean.warnUnknownKeys(Set.of()));
        assertEquals(List.of(), log.records(), "nothing to say, nothing logged");
    }

    @Test
    void quietCopyReportsTheSameKeysButLogsNothing() {
        JsonConfig c = cfg("{\"used\": 1, \"typo_steps\": 3, \"nested\": {\"a\": 1, \"b\": 2}}");
        c.getInt("used", 0);
        JsonConfig quiet = c.quietCopy();
        assertEquals(List.of("used", "typo_steps", "nested"), quiet.unreadKeys(), "a fresh copy: nothing read yet");
        assertEquals(1, quiet.getInt("used", 0));
        JsonConfig nested = quiet.getObject("nested").orElseThrow();
        nested.getInt("a", 0);
        assertEquals(List.of("typo_steps"), quiet.warnUnknownKeys(Set.of()));
        assertEquals(List.of("b"), nested.warnUnknownKeys(Set.of()));
        assertEquals(List.of(), log.records(), "a quiet copy and its nested configs log nothing");

        quiet.node().put("used", 99);
        assertEquals(1, c.getInt("used", 0), "the copy is deep");
        assertEquals(List.of("typo_steps", "nested"), c.warnUnknownKeys(Set.of()));
        assertEquals(1, log.records().size(), "the original still warns");
    }

    @Test
    void unsupportedNamesFileKeyValueAndExpectation() {
        JsonConfig c = cfg("{\"timestep_spacing\": \"karras\"}");
        ConfigException e = c.unsupported("timestep_spacing", "karras", "leading, trailing or linspace");
        assertEquals(SRC + ": timestep_spacing = karras is not supported (expected leading, trailing or linspace)", e.getMessage());
    }

    @Test
    void readingFilesFailsWithThePathAndTheReason() throws IOException {
        failsNaming(() -> JsonConfig.read(dir.resolve("absent.json")), dir.resolve("absent.json").toString(), "file not found");
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\n  \"a\": 1,\n  \"b\": tru\n}");
        failsNaming(() -> JsonConfig.read(bad), bad.toString(), "not valid JSON", "line 3");
        Path empty = Files.writeString(dir.resolve("empty.json"), "");
        failsNaming(() -> JsonConfig.read(empty), empty.toString(), "expected a JSON object, found an empty file");
        Path array = Files.writeString(dir.resolve("array.json"), "[\"diffusers\", \"DDIMScheduler\"]");
        failsNaming(() -> JsonConfig.read(array), array.toString(), "expected a JSON object, found array");
        Path latin1 = Files.write(dir.resolve("latin1.json"), "{\"a\": \"\u00e9\"}".getBytes(StandardCharsets.ISO_8859_1));
        failsNaming(() -> JsonConfig.read(latin1), latin1.toString(), "not UTF-8");
        failsNaming(() -> JsonConfig.read(dir), dir.toString(), "cannot read");
        failsNaming(() -> JsonConfig.parse("{\"a\": 1} {\"b\": 2}", "inline"), "inline: not valid JSON", "column 10");
    }

    @Test
    void pythonsNonStandardNumbersAreAccepted() {
        JsonConfig c = cfg("{\"nan\": NaN, \"inf\": Infinity, \"ninf\": -Infinity}");
        assertTrue(Double.isNaN(c.getDouble("nan", 0)));
        assertEquals(Double.POSITIVE_INFINITY, c.getDouble("inf", 0));
        assertEquals(Double.NEGATIVE_INFINITY, c.getDouble("ninf", 0));
        assertEquals(Optional.empty(), cfg("{}").get("x"));
    }
}
