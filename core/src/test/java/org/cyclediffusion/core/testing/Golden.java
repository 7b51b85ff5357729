package org.cyclediffusion.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.cyclediffusion.core.io.SafetensorsFile;
import org.cyclediffusion.core.tensor.FloatTensor;

/** One golden file: {@code NAME.safetensors} with {@code NAME.json} beside it. */
public final class Golden implements AutoCloseable {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private final String name;
    private final SafetensorsFile tensors;
    private final JsonNode json;

    private Golden(String name, SafetensorsFile tensors, JsonNode json) {
        this.name = name;
        this.tensors = tensors;
        this.json = json;
    }

    /** Opens {@code golden/NAME.safetensors} and {@code golden/NAME.json}. */
    public static Golden open(String name) {
        Path st = Fixtures.golden(name + ".safetensors");
        Path js = Fixtures.golden(name + ".json");
        try {
            JsonNode json = Files.exists(js) ? MAPPER.readTree(js.toFile()) : MAPPER.createObjectNode();
            return new Golden(name, SafetensorsFile.open(st), json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A case file {@code golden/case_ID.json}. */
    public static JsonNode caseJson(String id) {
        try {
            return MAPPER.readTree(Fixtures.golden("case_" + id + ".json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String name() {
        return name;
    }

    public JsonNode json() {
        return json;
    }

    public boolean has(String tensor) {
        return tensors.has(tensor);
    }

    public FloatTensor f32(String tensor) {
        return tensors.floatTensor(tensor);
    }

    public long[] i64(String tensor) {
        return tensors.longs(tensor);
    }

    public int[] shape(String tensor) {
        return tensors.info(tensor).intShape();
    }

    public SafetensorsFile file() {
        return tensors;
    }

    @Override
    public void close() {
        tensors.close();
    }
}
