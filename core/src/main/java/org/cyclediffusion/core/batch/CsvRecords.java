package org.cyclediffusion.core.batch;

import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 CSV as spreadsheets write it: comma-separated, fields optionally in double quotes, a
 * quote inside quotes doubled, line breaks allowed inside quotes, CRLF or LF. Each record keeps
 * the line it starts on, for messages. A manifest is small, so the whole text is parsed at once.
 */
final class CsvRecords {
    private CsvRecords() {
    }

    record Record(int line, List<String> fields) {
    }

    /** @throws IllegalArgumentException naming the line when a quoted field is not closed or text follows a closing quote */
    static List<Record> parse(String text) {
        List<Record> out = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        int line = 1;
        int recordLine = 1;
        boolean quoted = false;
        boolean afterQuote = false;
        boolean any = false;
        int i = text.startsWith("\uFEFF") ? 1 : 0; // a byte-order mark from a spreadsheet export
        for (; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < text.length() && text.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                        afterQuote = true;
                    }
                } else {
                    if (c == '\n') {
                        line++;
                    }
                    field.append(c);
                }
                continue;
            }
            if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
                afterQuote = false;
                any = true;
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
                    i++;
                }
                if (any || field.length() > 0 || afterQuote) {
                    fields.add(field.toString());
                    out.add(new Record(recordLine, List.copyOf(fields)));
                }
                fields.clear();
                field.setLength(0);
                afterQuote = false;
                any = false;
                line++;
                recordLine = line;
            } else if (afterQuote) {
                throw new IllegalArgumentException("line " + line + ": unexpected character '" + c + "' after a closing quote"
                        + " (a quote inside a quoted field is written as two quotes)");
            } else if (c == '"' && field.length() == 0) {
                quoted = true;
                any = true;
            } else {
                field.append(c);
            }
        }
        if (quoted) {
            throw new IllegalArgumentException("line " + recordLine + ": a quoted field is not closed before the end of the file");
        }
        if (any || field.length() > 0 || afterQuote) {
            fields.add(field.toString());
            out.add(new Record(recordLine, List.copyOf(fields)));
        }
        return out;
    }
}
