package org.cyclediffusion.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code cyclediffusion}: results on stdout, progress and warnings on stderr. Exit codes: 0 done,
 * 1 failure, 2 bad usage or input (a one-line message naming the flag or file; the stack trace
 * only with {@code --verbose}).
 */
@Command(name = "cyclediffusion", mixinStandardHelpOptions = true, versionProvider = Versions.class,
        description = "Zero-shot text-guided image editing with Stable Diffusion (CycleDiffusion, DPM-Encoder).",
        subcommands = {EditCommand.class, TokenizeCommand.class, BackendsCommand.class, BenchCommand.class, EncodeCommand.class,
                DecodeCommand.class, SchedulersCommand.class, ServeCommand.class, BatchCommand.class,
                RandomModelCommand.class, ExportOnnxCommand.class})
public final class Main implements Runnable {
    public static final int OK = 0;
    public static final int FAILURE = 1;
    public static final int USAGE = 2;
    /** 128 + SIGINT, as shells report a process Ctrl-C ended. */
    public static final int INTERRUPTED = 130;
    /** 128 + SIGTERM. */
    public static final int TERMINATED = 143;

    /** stderr for the process (progress bars draw on it directly). */
    static final PrintWriter STDERR = new PrintWriter(System.err, true);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        // Named from the registered subcommands, so a new command is never missing from the message.
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required: "
                + String.join(", ", spec.subcommands().keySet()));
    }

    public static void main(String[] args) {
        Interrupts.get().install(System.err);
        Logging.toStderr(STDERR);
        int code = run(args, new PrintWriter(System.out, true), STDERR);
        Interrupts.get().exit(code);
    }

    /** Runs the tool with the given streams; used by tests and by {@link #main}. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        return commandLine(out, err).execute(args);
    }

    /** The configured command line, before execution (tests reach a subcommand's instance through it). */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExitCodeExceptionMapper(Errors::exitCode);
        cl.setExecutionExceptionHandler(Errors::handle);
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("error: " + ex.getMessage());
            err.println("Try 'cyclediffusion " + (ex.getCommandLine().getCommandName().equals("cyclediffusion") ? "" : ex.getCommandLine().getCommandName() + " ")
                    + "--help' for usage.");
            return USAGE;
        });
        return cl;
    }
}
