package org.cyclediffusion.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.cyclediffusion.core.testing.Fixtures;
import org.cyclediffusion.core.testing.Golden;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Exact parity with transformers 4.35.2's slow CLIPTokenizer (no ftfy) on every id the goldens
 * hold: the 32 prompts of {@code golden/tokenizer} on the SD 1.x and SD 2.x tokenizers, the
 * prompts of every end-to-end case, and the text-encoder goldens' inputs.
 */
class ClipTokenizerGoldenTest {
    private static final int N = 77;
    private static ClipTokenizer sd1;
    private static ClipTokenizer sd2;

    @BeforeAll
    static void load() {
        sd1 = ClipTokenizer.load(Fixtures.model("tiny-sd").resolve("tokenizer"));
        sd2 = ClipTokenizer.load(Fixtures.model("tiny-sd2").resolve("tokenizer"));
    }

    @Test
    void specialIdsAndLengthComeFromTheConfigFiles() {
        assertEquals(77, sd1.maxLength());
        assertEquals(49406, sd1.bosId());
        assertEquals(49407, sd1.eosId());
        assertEquals(49407, sd1.padId());
        assertEquals(0, sd2.padId(), "SD 2.x pads with '!' (id 0)");
        assertEquals(49406, sd2.bosId());
        assertEquals(49407, sd2.eosId());
        assertEquals(49408, sd1.vocabSize());
    }

    @TestFactory
    Stream<DynamicTest> everyRowOfTheTokenizerGolden() {
        try (Golden g = Golden.open("tokenizer")) {
            JsonNode json = g.json();
            assertFalse(json.get("ftfy_available").asBoolean(), "goldens were made without ftfy");
            long[] ids1 = g.i64("ids_sd1");
            long[] ids2 = g.i64("ids_sd2");
            long[] lengths = g.i64("untruncated_length");
            JsonNode prompts = json.get("prompts");
            JsonNode tokens = json.get("tokens_untruncated");
            assertEquals(32, prompts.size());
            assertArrayEquals(new int[] {prompts.size(), N}, g.shape("ids_sd1"));
            List<DynamicTest> tests = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                int row = i;
                String prompt = prompts.get(i).asText();
                long[] expected1 = Arrays.copyOfRange(ids1, row * N, (row + 1) * N);
                long[] expected2 = Arrays.copyOfRange(ids2, row * N, (row + 1) * N);
                List<String> expectedTokens = new ArrayList<>();
                for (int k = 1; k < tokens.get(row).size() - 1; k++) {
                    expectedTokens.add(tokens.get(row).get(k).asText());
                }
                tests.add(DynamicTest.dynamicTest(row + ": " + abbreviate(prompt), () -> {
                    TokenizedPrompt t1 = sd1.tokenize(prompt);
                    assertArrayEquals(expected1, t1.ids(), "ids_sd1 row " + row);
                    assertArrayEquals(expected2, sd2.tokenize(prompt).ids(), "ids_sd2 row " + row);
                    assertEquals(lengths[row], t1.untruncatedLength(), "untruncated_length row " + row);
                    assertEquals(lengths[row] > N, t1.truncated());
                    assertEquals(expectedTokens, sd1.tokens(prompt), "tokens_untruncated row " + row);
                }));
            }
            return tests.stream();
        }
    }

    @TestFactory
    Stream<DynamicTest> promptIdsOfEveryCycleCase() throws IOException {
        List<Path> cases;
        try (Stream<Path> files = Files.list(Fixtures.root().resolve("golden"))) {
            cases = files.filter(p -> p.getFileName().toString().matches("case_.*\\.json")).sorted().toList();
        }
        assertTrue(cases.size() >= 15, "expected the 15 end-to-end cases, found " + cases.size());
        return cases.stream().map(file -> {
            String id = file.getFileName().toString().replaceAll("^case_|\\.json$", "");
            return DynamicTest.dynamicTest(id, () -> {
                JsonNode c = Golden.caseJson(id);
                ClipTokenizer tok = tokenizerFor(c.get("model").asText());
                try (Golden g = Golden.open("cycle_" + id)) {
                    assertRows(tok, prompts(c.get("prompt")), g, "prompt_ids");
                    assertRows(tok, prompts(c.get("source_prompt")), g, "source_prompt_ids");
                }
            });
        });
    }

    @Test
    void textEncoderGoldenInputsIncludingTheEmptyPrompt() {
        for (String model : List.of("tiny-sd", "tiny-sd2")) {
            try (Golden g = Golden.open("text_encoder_" + model.replace('-', '_'))) {
                List<String> prompts = prompts(g.json().get("prompts"));
                assertTrue(prompts.contains(""), "the unconditional prompt is among the inputs");
                assertRows(tokenizerFor(model), prompts, g, "input_ids");
            }
        }
    }

    @Test
    void emptyPromptIsBosEosThenPadding() {
        long[] uncond1 = sd1.tokenize("").ids();
        long[] uncond2 = sd2.tokenize("").ids();
        assertEquals(49406, uncond1[0]);
        assertEquals(49407, uncond1[1]);
        assertTrue(Arrays.stream(uncond1, 2, N).allMatch(v -> v == 49407));
        assertEquals(49407, uncond2[1]);
        assertTrue(Arrays.stream(uncond2, 2, N).allMatch(v -> v == 0));
        assertFalse(sd1.tokenize("").truncated());
        assertEquals(2, sd1.tokenize("").untruncatedLength());
    }

    private static void assertRows(ClipTokenizer tok, List<String> prompts, Golden g, String tensor) {
        long[] expected = g.i64(tensor);
        assertArrayEquals(new int[] {prompts.size(), N}, g.shape(tensor), tensor + " shape");
        long[][] actual = tok.encode(prompts);
        for (int r = 0; r < prompts.size(); r++) {
            assertArrayEquals(Arrays.copyOfRange(expected, r * N, (r + 1) * N), actual[r],
                    g.name() + " " + tensor + " row " + r + " (" + prompts.get(r) + ")");
        }
    }

    private static ClipTokenizer tokenizerFor(String model) {
        return switch (model) {
            case "tiny-sd" -> sd1;
            case "tiny-sd2" -> sd2;
            default -> throw new AssertionError("no tokenizer fixture for model " + model);
        };
    }

    private static List<String> prompts(JsonNode node) {
        List<String> out = new ArrayList<>();
        if (node.isArray()) {
            node.forEach(n -> out.add(n.asText()));
        } else {
            out.add(node.asText());
        }
        return out;
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
