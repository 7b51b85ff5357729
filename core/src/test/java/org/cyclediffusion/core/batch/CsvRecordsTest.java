package org.cyclediffusion.core.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class CsvRecordsTest {
    @Test
    void quotesCommasDoubledQuotesAndLineBreaksInsideQuotes() {
        List<CsvRecords.Record> r = CsvRecords.parse("\uFEFFid,prompt\r\na,\"x, \"\"y\"\"\"\r\n\r\nb,\"two\nlines\"\nc,\n");
        assertEquals(4, r.size());
        assertEquals(List.of("id", "prompt"), r.get(0).fields());
        assertEquals(List.of("a", "x, \"y\""), r.get(1).fields());
        assertEquals(2, r.get(1).line());
        assertEquals(List.of("b", "two\nlines"), r.get(2).fields());
        assertEquals(4, r.get(2).line());
        assertEquals(List.of("c", ""), r.get(3).fields());
        assertEquals(6, r.get(3).line());
    }

    @Test
    void anUnclosedQuoteNamesItsLine() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CsvRecords.parse("id\n\"open\n"));
        assertTrue(e.getMessage().startsWith("line 2:"), e.getMessage());
        IllegalArgumentException after = assertThrows(IllegalArgumentException.class, () -> CsvRecords.parse("\"a\"b\n"));
        assertTrue(after.getMessage().contains("after a closing quote"), after.getMessage());
    }
}
