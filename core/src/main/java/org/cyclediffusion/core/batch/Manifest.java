package org.cyclediffusion.core.batch;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.image.ImageFiles;

/**
 * A batch manifest, read and checked as a whole before anything runs: JSON lines ({@code .jsonl},
 * {@code .ndjson}, {@code .json}: one object per line, blank lines ignored) or CSV ({@code .csv}:
 * a header row of column names, then one row per edit). Every problem of every line is collected
 * with its line number: fields, types and ranges ({@link BatchItemParser}), ids unique, and every
 * image present and decodable. Rows with no problem are {@link #items()}, in manifest order.
 *
 * @param file     the manifest
 * @param items    the valid rows
 * @param problems every problem found, in line order
 * @param rows     how many rows the manifest has (valid or not)
 */
public record Manifest(Path file, List<BatchItem> items, List<Problem> problems, int rows) {

    public Manifest {
        items = List.copyOf(items);
        problems = List.copyOf(problems);
    }

    /** One problem of one line. */
    public record Problem(int line, String message) {
    }

    /** The input image of an item: its path relative to the manifest's folder, or absolute. */
    public Path imagePath(BatchItem item) {
        return resolve(file, item.image());
    }

    /** The lines that have at least one problem. */
    public long invalidLines() {
        return problems.stream().mapToInt(Problem::line).distinct().count();
    }

    /**
     * Reads and checks {@code file}.
     *
     * @throws InvalidInputException when the file itself cannot be used (missing, not UTF-8, an
     *     unknown extension, a CSV header naming unknown or repeated columns)
     */
    public static Manifest read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new InvalidInputException("manifest " + file + " does not exist or is not a file");
        }
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new InvalidInputException("manifest " + file + " is not UTF-8 text");
        } catch (IOException e) {
            throw new CycleDiffusionException("cannot read manifest " + file + ": " + e, e);
        }
        List<Row> rows;
        if (name.endsWith(".jsonl") || name.endsWith(".ndjson") || name.endsWith(".json")) {
            rows = jsonLines(text);
        } else if (name.endsWith(".csv")) {
            rows = csv(file, text);
        } else {
            throw new InvalidInputException("manifest " + file + ": expected a .jsonl (JSON lines) or .csv file");
        }
        return check(file, rows);
    }

    /** One row before checking: its line and either its values or why it could not be read at all. */
    private record Row(int line, Map<String, Object> values, boolean textual, String unreadable) {
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static List<Row> jsonLines(String text) {
        List<Row> rows = new ArrayList<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (!lines[i].isBlank()) {
                rows.add(jsonRow(i + 1, lines[i]));
            }
        }
        return rows;
    }

    /**
     * One JSON-lines row on its own, checked for fields, types and ranges (not for its image or
     * the uniqueness of its id, which need the other rows and the file system): for runners that
     * read the manifest themselves (the Spark job).
     */
    public static BatchItemParser.Parsed parseJsonLine(int line, String text) {
        Row r = jsonRow(line, text);
        return r.unreadable() != null ? new BatchItemParser.Parsed(Optional.empty(), List.of(r.unreadable()))
                : BatchItemParser.parse(line, r.values(), false);
    }

    private static Row jsonRow(int line, String text) {
        try {
            JsonNode node = JSON.readTree(text);
            if (!node.isObject()) {
                return new Row(line, null, false, "expected a JSON object, found " + node.getNodeType().toString().toLowerCase(Locale.ROOT));
            }
            Map<String, Object> values = new LinkedHashMap<>();
            node.fields().forEachRemaining(e -> values.put(e.getKey(), plain(e.getValue())));
            return new Row(line, values, false, null);
        } catch (JsonProcessingException e) {
            return new Row(line, null, false, "not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** String, Number (BigDecimal or BigInteger), Boolean, null; arrays and objects stay nodes (and are rejected by type). */
    private static Object plain(JsonNode v) {
        if (v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            return v.textValue();
        }
        if (v.isNumber()) {
            return v.numberValue();
        }
        if (v.isBoolean()) {
            return v.booleanValue();
        }
        return v.isArray() ? List.of(v) : Map.of("object", v);
    }

    private static List<Row> csv(Path file, String text) {
        List<CsvRecords.Record> records;
        try {
            records = CsvRecords.parse(text);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("manifest " + file + ", " + e.getMessage());
        }
        if (records.isEmpty()) {
            return List.of();
        }
        List<String> header = records.get(0).fields().stream().map(String::trim).toList();
        List<String> bad = new ArrayList<>();
        for (int c = 0; c < header.size(); c++) {
            String h = header.get(c);
            if (ManifestField.byKey(h).isEmpty()) {
                bad.add("unknown column \"" + h + "\"");
            } else if (header.indexOf(h) != c) {
                bad.add("column \"" + h + "\" appears twice");
            }
        }
        if (!bad.isEmpty()) {
            throw new InvalidInputException("manifest " + file + ":" + records.get(0).line() + " (header): " + String.join("; ", bad)
                    + " (known columns: " + String.join(", ", ManifestField.keys()) + ")");
        }
        List<Row> rows = new ArrayList<>();
        for (CsvRecords.Record r : records.subList(1, records.size())) {
            if (r.fields().size() != header.size()) {
                rows.add(new Row(r.line(), null, true, r.fields().size() + " columns, expected " + header.size() + " as in the header"));
                continue;
            }
            Map<String, Object> values = new LinkedHashMap<>();
            for (int c = 0; c < header.size(); c++) {
                values.put(header.get(c), r.fields().get(c));
            }
            rows.add(new Row(r.line(), values, true, null));
        }
        return rows;
    }

    private static Manifest check(Path file, List<Row> rows) {
        List<BatchItem> items = new ArrayList<>();
        List<Problem> problems = new ArrayList<>();
        Map<String, Integer> idLines = new HashMap<>();
        Map<Path, Optional<String>> imageChecks = new HashMap<>();
        for (Row row : rows) {
            if (row.unreadable() != null) {
                problems.add(new Problem(row.line(), row.unreadable()));
                continue;
            }
            BatchItemParser.Parsed parsed = BatchItemParser.parse(row.line(), row.values(), row.textual());
            List<String> mine = new ArrayList<>(parsed.problems());
            Object id = row.values().get(ManifestField.ID.key());
            if (id instanceof String s && !s.isEmpty()) {
                Integer first = idLines.putIfAbsent(s, row.line());
                if (first != null) {
                    mine.add("id \"" + s + "\" is already used on line " + first + " (ids must be unique: they name the outputs)");
                }
            }
            Object image = row.values().get(ManifestField.IMAGE.key());
            if (image instanceof String s && !s.isBlank()) {
                imageChecks.computeIfAbsent(resolve(file, s), Manifest::imageProblem).ifPresent(mine::add);
            }
            Object target = row.values().get(ManifestField.TARGET_MODEL.key());
            if (target instanceof String s && !s.isBlank() && !namesAModel(s)) {
                mine.add("target_model: model folder " + s + " does not exist, and it is not a hub id ORG/NAME[@REV] (it is named as"
                        + " --model is, from the working directory)");
            }
            mine.forEach(m -> problems.add(new Problem(row.line(), m)));
            if (mine.isEmpty()) {
                items.add(parsed.item().orElseThrow());
            }
        }
        return new Manifest(file, items, problems, rows.size());
    }

    /** A path that exists (folder or single file) or a hub id: the forms {@code --model} takes, resolved when the row runs. */
    private static boolean namesAModel(String s) {
        try {
            if (Files.exists(Path.of(s))) {
                return true;
            }
        } catch (java.nio.file.InvalidPathException e) {
            // not a path; maybe a hub id
        }
        return org.cyclediffusion.core.hub.HubId.parse(s, null).isPresent();
    }

    private static Path resolve(Path manifest, String image) {
        Path dir = manifest.toAbsolutePath().getParent();
        return dir.resolve(image).normalize();
    }

    private static Optional<String> imageProblem(Path image) {
        try {
            ImageFiles.read(image);
            return Optional.empty();
        } catch (CycleDiffusionException e) {
            return Optional.of("image: " + e.getMessage());
        }
    }
}
