package org.cyclediffusion.core.io;

import static org.cyclediffusion.core.io.SafetensorsTestWriter.shape;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.cyclediffusion.core.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every way a safetensors file can be broken fails at open with a message naming the file (and the
 * tensor, where there is one) and what was expected. The rules are those of the reference reader
 * ({@code safetensors/src/tensor.rs}: {@code read_metadata}, {@code Metadata::validate}).
 */
class SafetensorsFileErrorsTest {
    private static final String ONE = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

    @TempDir
    Path dir;

    private String fails(Path file, String... fragments) {
        ConfigException e = assertThrows(ConfigException.class, () -> SafetensorsFile.open(file).close());
        String m = e.getMessage();
        assertTrue(m.startsWith(file.toString()), "message names the file: " + m);
        for (String f : fragments) {
            assertTrue(m.contains(f), "message should contain '" + f + "': " + m);
        }
        return m;
    }

    private Path file(String name, String header, int dataBytes) {
        return SafetensorsTestWriter.raw(dir.resolve(name), header, new byte[dataBytes]);
    }

    @Test
    void wellFormedControlOpens() {
        assertDoesNotThrow(() -> SafetensorsFile.open(file("ok.safetensors", ONE, 16)).close());
    }

    @Test
    void missingFileAndDirectory() {
        fails(dir.resolve("absent.safetensors"), "not found");
        fails(dir, "is a directory");
    }

    @Test
    void fileShorterThanEightBytes() throws IOException {
        Path f = Files.write(dir.resolve("tiny.safetensors"), new byte[] {1, 0, 0, 0, 0});
        fails(f, "5 bytes", "8-byte header length");
        fails(Files.write(dir.resolve("empty.safetensors"), new byte[0]), "0 bytes");
    }

    @Test
    void headerLengthLargerThanTheFile() {
        byte[] h = ONE.getBytes(StandardCharsets.UTF_8);
        Path f = SafetensorsTestWriter.rawBytes(dir.resolve("long.safetensors"), 4096, h, new byte[16]);
        fails(f, "header length 4096", "runs past the end of the file", "truncated");
    }

    @Test
    void absurdHeaderLengthsAreRefusedBeforeReading() {
        byte[] h = ONE.getBytes(StandardCharsets.UTF_8);
        fails(SafetensorsTestWriter.rawBytes(dir.resolve("big.safetensors"), 100_000_001L, h, new byte[16]),
                "100000001", "limit of 100000000 bytes");
        // A u64 above 2^63 is negative as a Java long: still "too large", printed unsigned.
        fails(SafetensorsTestWriter.rawBytes(dir.resolve("huge.safetensors"), -1L, h, new byte[16]), "18446744073709551615");
        // Text where the length should be (a JSON file renamed .safetensors).
        Path json = dir.resolve("json.safetensors");
        assertDoesNotThrow(() -> Files.writeString(json, "{\"not\": \"safetensors\", \"but\": \"json\"}"));
        fails(json, "exceeds the safetensors limit");
    }

    @Test
    void zeroLengthHeader() {
        fails(SafetensorsTestWriter.rawBytes(dir.resolve("zero.safetensors"), 0, new byte[0], new byte[0]), "header length is 0");
    }

    @Test
    void headerNotJsonNotUtf8NotAnObject() {
        fails(file("garbage.safetensors", "{\"w\": {\"dtype\": F32}", 16), "not valid JSON");
        fails(file("array.safetensors", "[1, 2, 3]", 0), "must be a JSON object, found array");
        fails(file("string.safetensors", "\"w\"", 0), "must be a JSON object, found string");
        fails(file("trailing.safetensors", ONE + " {}", 16), "not valid JSON");
        fails(file("duplicate.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "not valid JSON", "Duplicate field 'w'");
        byte[] bad = "{\"w\u00ff\":{}}".getBytes(StandardCharsets.ISO_8859_1);
        fails(SafetensorsTestWriter.rawBytes(dir.resolve("latin1.safetensors"), bad.length, bad, new byte[0]), "not UTF-8");
    }

    @Test
    void malformedTensorEntriesNameTheTensor() {
        fails(file("notobj.safetensors", "{\"w\": [0, 16]}", 16), "tensor 'w'", "expected {\"dtype\", \"shape\", \"data_offsets\"}");
        fails(file("nodtype.safetensors", "{\"w\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16), "tensor 'w'");
        fails(file("dtypenum.safetensors", "{\"w\":{\"dtype\":4,\"shape\":[4],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "dtype must be a string");
        fails(file("negdim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "non-negative integers", "-4");
        fails(file("floatdim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4.0],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "non-negative integers");
        fails(file("strdim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":\"4\",\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "shape must be a list");
        fails(file("oneoff.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16]}}", 16),
                "tensor 'w'", "must be a pair");
        fails(file("stroff.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[\"0\",16]}}", 16),
                "tensor 'w'", "non-negative integers");
        fails(file("meta.safetensors", "{\"__metadata__\":{\"format\":1}}", 0), "__metadata__", "\"format\": 1");
        fails(file("meta2.safetensors", "{\"__metadata__\":[\"pt\"]}", 0), "__metadata__ must be an object");
    }

    @Test
    void unknownDtypeNamesTensorAndTheKnownOnes() {
        fails(file("dtype.safetensors", "{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "unknown dtype 'F128'", "F32", "BF16", "I64", "BOOL");
        fails(file("lower.safetensors", "{\"w\":{\"dtype\":\"f32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "unknown dtype 'f32'");
    }

    @Test
    void shapeAndByteCountMustAgree() {
        fails(file("count.safetensors", "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "shape [2,2] of F16 needs 8 bytes", "cover 16");
        fails(file("overflow.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "overflows");
        fails(file("overflow2.safetensors",
                "{\"w\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,16]}}", 16),
                "tensor 'w'", "overflows");
    }

    @Test
    void offsetsOutOfRangeOrBackwards() {
        fails(file("range.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[250],\"data_offsets\":[0,1000]}}", 16),
                "tensor 'w'", "[0,1000] run past the data section, which has 16 bytes");
        fails(file("far.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[9223372036854775000,9223372036854775016]}}",
                16), "tensor 'w'", "run past the data section");
        fails(file("backwards.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", 16),
                "tensor 'w'", "end before they begin");
        fails(file("big.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,18446744073709551615]}}", 16),
                "tensor 'w'", "non-negative integers");
    }

    @Test
    void truncatedDataNamesTheTensorThatNoLongerFits() throws IOException {
        Path f = new SafetensorsTestWriter().f32("a", shape(4), 1, 2, 3, 4).f32("b", shape(2), 5, 6)
                .write(dir.resolve("cut.safetensors"));
        try (var ch = Files.newByteChannel(f, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 3);
        }
        fails(f, "tensor 'b'", "run past the data section", "truncated");
    }

    @Test
    void overlappingTensorsNameBoth() {
        fails(file("overlap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24), "'b' [8, 24) overlaps tensor 'a' [0, 16)");
        // Two names for the same bytes (an aliasing writer) is an overlap too: the reference refuses it.
        fails(file("alias.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16), "overlaps");
    }

    @Test
    void gapsAndTrailingBytesAreRefusedAsTheReferenceDoes() {
        fails(file("gap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", 24),
                "tensor 'b' begins at data byte 16", "'a' ends at 8", "without gaps");
        fails(file("start.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16),
                "tensor 'a' begins at data byte 8", "no tensor begins at 0");
        fails(file("trail.safetensors", ONE, 20), "4 bytes after the end of the last tensor 'w'");
        fails(file("emptytrail.safetensors", "{}", 8), "8 bytes after the end of the last tensor");
        assertDoesNotThrow(() -> SafetensorsFile.open(file("empty.safetensors", "{}", 0)).close());
        // Zero-size tensors sit anywhere inside the tiling, as the reference writes them.
        assertDoesNotThrow(() -> SafetensorsFile.open(file("zero.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16)).close());
    }

    @Test
    void unknownFieldsInsideAnEntryAreIgnoredAsSerdeDoes() {
        assertDoesNotThrow(() -> SafetensorsFile.open(file("extra.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"comment\":\"x\"}}", 16)).close());
    }

    @Test
    void headerWithoutSpacePaddingAndLiteralNewlinesStillOpens() {
        byte[] h = ("{\n  \"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 16]}\n}").getBytes(StandardCharsets.UTF_8);
        assertTrue(h.length % 8 != 0);
        assertDoesNotThrow(() -> SafetensorsFile.open(SafetensorsTestWriter.rawBytes(dir.resolve("unpadded.safetensors"), h.length, h,
                new byte[16])).close());
    }
}
