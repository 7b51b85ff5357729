package org.cyclediffusion.core.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.pipeline.Timings;

/**
 * What became of one manifest row: one line of {@code results.jsonl}, one row of the Spark job's
 * results table (same names; {@code parameters} is an object here and JSON text in Parquet).
 *
 * @param id         the row's id
 * @param line       the row's line in the manifest
 * @param status     {@link #OK} or {@link #FAILED}
 * @param outputs    file names of the written images, relative to the output folder (empty on failure)
 * @param nsfw       one flag per output, or null when no safety checker ran
 * @param seed       the seed used (the row's, or the random one chosen for it); null for a row too malformed to have one
 * @param elapsedMs  wall time of the item: reading the image, the edit, writing the outputs
 * @param timings    the edit's own phases, null on failure
 * @param error      one-line reason of a failure, null on success
 * @param parameters the edit's parameters as {@code EditProvenance} describes them (what the PNGs carry)
 * @param finishedAt ISO-8601 instant
 */
public record ItemResult(String id, int line, String status, List<String> outputs, List<Boolean> nsfw, Long seed, double elapsedMs,
        ItemTimings timings, String error, ObjectNode parameters, String finishedAt) {

    public static final String OK = "ok";
    public static final String FAILED = "failed";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    public ItemResult {
        outputs = List.copyOf(outputs);
        nsfw = nsfw == null ? null : Collections.unmodifiableList(new ArrayList<>(nsfw));
    }

    public boolean ok() {
        return OK.equals(status);
    }

    /** The edit's phases in milliseconds, named as {@code edit --json} names them. */
    public record ItemTimings(double promptEncoding, double imageEncoding, int steps, double meanStep, double decoding,
            double safetyChecker, double total) {
        public static ItemTimings of(Timings t) {
            return new ItemTimings(t.promptMillis(), t.encodeMillis(), t.stepsMillis().length, t.meanStepMillis(), t.decodeMillis(),
                    t.safetyMillis(), t.totalMillis());
        }
    }

    public static ItemResult failed(BatchItem item, long seed, double elapsedMs, Throwable error, ObjectNode parameters) {
        return new ItemResult(item.id(), item.line(), FAILED, List.of(), null, seed, elapsedMs, null, describe(error), parameters,
                Instant.now().toString());
    }

    /** A row that could not become an item (bad fields, a repeated id): recorded by runners that do not stop for it (Spark). */
    public static ItemResult invalid(String id, int line, Long seed, List<String> problems) {
        return new ItemResult(id, line, FAILED, List.of(), null, seed, 0, null, "invalid row: " + String.join("; ", problems), null,
                Instant.now().toString());
    }

    /** One line: the message of our own exceptions; the class name too for anything else (a native error, a bug). */
    public static String describe(Throwable e) {
        String m = e.getMessage();
        String first = m == null || m.isBlank() ? "" : m.lines().findFirst().orElse(m);
        if (e instanceof CycleDiffusionException && !first.isEmpty()) {
            return first;
        }
        return first.isEmpty() ? e.getClass().getName() : e.getClass().getSimpleName() + ": " + first;
    }

    public ObjectNode toJson() {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("id", id);
        o.put("line", line);
        o.put("status", status);
        ArrayNode outs = o.putArray("outputs");
        outputs.forEach(outs::add);
        if (nsfw == null) {
            o.putNull("nsfw");
        } else {
            ArrayNode n = o.putArray("nsfw");
            nsfw.forEach(n::add);
        }
        if (seed == null) {
            o.putNull("seed");
        } else {
            o.put("seed", seed);
        }
        o.put("elapsed_ms", elapsedMs);
        if (timings == null) {
            o.putNull("timings_ms");
        } else {
            ObjectNode t = o.putObject("timings_ms");
            t.put("prompt_encoding", timings.promptEncoding());
            t.put("image_encoding", timings.imageEncoding());
            t.put("steps", timings.steps());
            t.put("mean_step", timings.meanStep());
            t.put("decoding", timings.decoding());
            t.put("safety_checker", timings.safetyChecker());
            t.put("total", timings.total());
        }
        if (error == null) {
            o.putNull("error");
        } else {
            o.put("error", error);
        }
        o.set("parameters", parameters);
        o.put("finished_at", finishedAt);
        return o;
    }

    /** Reads a line written by {@link #toJson()}. */
    public static ItemResult fromJson(JsonNode o) {
        List<String> outs = new ArrayList<>();
        o.path("outputs").forEach(n -> outs.add(n.asText()));
        List<Boolean> nsfw = null;
        if (o.path("nsfw").isArray()) {
            nsfw = new ArrayList<>();
            for (JsonNode n : o.get("nsfw")) {
                nsfw.add(n.asBoolean());
            }
        }
        JsonNode t = o.path("timings_ms");
        ItemTimings timings = t.isObject() ? new ItemTimings(t.path("prompt_encoding").asDouble(), t.path("image_encoding").asDouble(),
                t.path("steps").asInt(), t.path("mean_step").asDouble(), t.path("decoding").asDouble(), t.path("safety_checker").asDouble(),
                t.path("total").asDouble()) : null;
        JsonNode p = o.get("parameters");
        return new ItemResult(o.path("id").asText(), o.path("line").asInt(), o.path("status").asText(), outs, nsfw, o.hasNonNull("seed") ? o.get("seed").asLong() : null,
                o.path("elapsed_ms").asDouble(), timings, o.hasNonNull("error") ? o.get("error").asText() : null,
                p instanceof ObjectNode po ? po : null, o.path("finished_at").asText());
    }
}
