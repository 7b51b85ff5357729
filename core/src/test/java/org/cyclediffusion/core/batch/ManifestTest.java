package org.cyclediffusion.core.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestTest {
    @TempDir
    Path tmp;

    @Test
    void csvRowsResolveImagesAgainstTheManifestsFolder() throws IOException {
        Files.createDirectories(tmp.resolve("in"));
        Files.copy(Fixtures.image("img_a_64x64.png"), tmp.resolve("in/a.png"));
        Path m = tmp.resolve("edits.csv");
        Files.writeString(m, "id,image,prompt,source_prompt,seed\nx,in/a.png,\"an elephant, grey\",a horse,3\ny,in/a.png,b,c,\n");
        Manifest manifest = Manifest.read(m);
        assertEquals(List.of(), manifest.problems());
        assertEquals(2, manifest.rows());
        BatchItem x = manifest.items().get(0);
        assertEquals("an elephant, grey", x.prompt());
        assertEquals(3L, x.seed());
        assertEquals(tmp.resolve("in/a.png"), manifest.imagePath(x));
        assertEquals(3, manifest.items().get(1).line());
    }

    @Test
    void aCsvHeaderWithAnUnknownColumnIsRejectedWhole() throws IOException {
        Path m = tmp.resolve("edits.csv");
        Files.writeString(m, "id,image,prompt,source_prompt,strenght\n");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Manifest.read(m));
        assertTrue(e.getMessage().contains("edits.csv:1 (header): unknown column \"strenght\""), e.getMessage());
    }

    @Test
    void otherExtensionsAndMissingFilesAreNamed() throws IOException {
        Path yaml = tmp.resolve("edits.yaml");
        Files.writeString(yaml, "");
        assertTrue(assertThrows(InvalidInputException.class, () -> Manifest.read(yaml)).getMessage().contains("expected a .jsonl"));
        assertTrue(assertThrows(InvalidInputException.class, () -> Manifest.read(tmp.resolve("none.jsonl"))).getMessage()
                .contains("none.jsonl does not exist"));
    }

    @Test
    void aJsonLineAloneIsCheckedForFieldsOnly() {
        BatchItemParser.Parsed ok = Manifest.parseJsonLine(4, "{\"id\":\"a\",\"image\":\"nowhere.png\",\"prompt\":\"p\",\"source_prompt\":\"s\"}");
        assertEquals(4, ok.item().orElseThrow().line());
        assertEquals(List.of("not valid JSON: Duplicate field 'id'"),
                Manifest.parseJsonLine(1, "{\"id\":\"a\",\"id\":\"b\"}").problems());
        assertEquals(List.of("expected a JSON object, found array"), Manifest.parseJsonLine(1, "[1]").problems());
    }
}
