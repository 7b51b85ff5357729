package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.cyclediffusion.core.InvalidInputException;
import org.cyclediffusion.core.pipeline.InvalidRequestException;
import picocli.CommandLine;

/** Maps failures to exit codes and one-line messages. */
final class Errors {
    private Errors() {
    }

    /** Parses a flag's value; a parser's IllegalArgumentException becomes a usage error naming the flag. */
    static <T> T flagValue(java.util.function.Supplier<T> parser, String flag) {
        try {
            return parser.get();
        } catch (IllegalArgumentException e) {
            throw new UsageException(flag + ": " + e.getMessage());
        }
    }

    /** Bad input given by the user (a file, a flag value): exit 2. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }

        UsageException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    static boolean isUsage(Throwable e) {
        return e instanceof UsageException || e instanceof InvalidInputException || e instanceof IllegalArgumentException
                || e instanceof CommandLine.ParameterException;
    }

    static int exitCode(Throwable e) {
        return isUsage(e) ? Main.USAGE : Main.FAILURE;
    }

    static int handle(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        if (Interrupts.get().cancelled()) {
            // an interrupt stopped the work: the shutdown hook says so, and the JVM exits with 130 or 143
            return Main.INTERRUPTED;
        }
        PrintWriter err = cl.getErr();
        boolean verbose = parsed != null && verbose(parsed);
        err.println("error: " + oneLine(e));
        if (verbose) {
            StringWriter sw = new StringWriter();
            e.printStackTrace(new PrintWriter(sw));
            err.print(sw);
        } else if (!isUsage(e)) {
            err.println("(run with --verbose for the stack trace)");
        }
        err.flush();
        return exitCode(e);
    }

    private static boolean verbose(CommandLine.ParseResult parsed) {
        CommandLine.ParseResult p = parsed;
        while (p != null) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
            p = p.subcommand();
        }
        return false;
    }

    static String oneLine(Throwable e) {
        String m = e instanceof InvalidRequestException ire ? FlagNames.inFlags(ire) : e.getMessage();
        if (m == null || m.isBlank()) {
            m = e.getClass().getSimpleName();
        }
        return m.lines().findFirst().orElse(m);
    }
}
