package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's {@code --help} renders cleanly. picocli formats descriptions as format strings,
 * so a bare {@code %} (as in "within 2% of") made it print a warning to stderr three times on
 * every {@code edit --help} and show the text unformatted.
 */
class UsageTextTest {

    @Test
    void everyCommandsUsageRendersWithoutPicocliWarnings() {
        CommandLine root = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        PrintStream saved = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            assertTrue(root.getUsageMessage().contains("export-onnx"));
            for (Map.Entry<String, CommandLine> sub : root.getSubcommands().entrySet()) {
                String usage = sub.getValue().getUsageMessage();
                assertTrue(usage.contains("Usage: cyclediffusion " + sub.getKey()), sub.getKey() + ": " + usage);
            }
        } finally {
            System.setErr(saved);
        }
        assertEquals("", captured.toString(StandardCharsets.UTF_8), "picocli's warnings while rendering usage");
    }

    @Test
    void noCommandNamesEveryCommand() {
        StringWriter err = new StringWriter();
        int code = Main.run(new String[0], new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
        assertEquals(Main.USAGE, code);
        for (String name : Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter())).getSubcommands().keySet()) {
            assertTrue(err.toString().contains(name), name + " missing from: " + err);
        }
    }
}
