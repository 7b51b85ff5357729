package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The libraries' warnings (java.util.logging, where {@code System.Logger} goes by default) as one
 * line each on stderr, {@code warning: ...}, instead of JUL's two-line records with a timestamp.
 */
final class Logging {
    private Logging() {
    }

    static void toStderr(PrintWriter err) {
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        root.setLevel(Level.WARNING);
        root.addHandler(new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() < Level.WARNING.intValue()) {
                    return;
                }
                String message = r.getParameters() == null ? r.getMessage() : java.text.MessageFormat.format(r.getMessage(), r.getParameters());
                err.println((r.getLevel() == Level.SEVERE ? "error: " : "warning: ") + message);
                err.flush();
            }

            @Override
            public void flush() {
                err.flush();
            }

            @Override
            public void close() {
            }
        });
    }
}
