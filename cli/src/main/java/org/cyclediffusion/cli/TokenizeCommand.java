package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.tokenizer.ClipTokenizer;
import org.cyclediffusion.core.tokenizer.TokenizedPrompt;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cyclediffusion tokenize}: the ids a prompt becomes, and whether it was cut at 77 tokens. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Show the CLIP token ids of a prompt.")
final class TokenizeCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @CommandLine.Mixin
    ModelSource modelOptions;

    @Option(names = "--verbose", description = "Stack traces on errors.")
    boolean verbose;

    @Parameters(paramLabel = "TEXT", description = "The prompt.")
    String text;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ClipTokenizer tokenizer = ClipTokenizer.load(modelOptions.resolveForTokenizer(spec.commandLine().getErr()).component("tokenizer"));
        TokenizedPrompt t = tokenizer.tokenize(text);
        out.println("ids: " + Arrays.toString(t.ids()));
        int max = tokenizer.maxLength();
        out.println("tokens: " + t.untruncatedLength() + " (including start and end; the model takes " + max + ")");
        if (t.truncated()) {
            out.println("truncated: the prompt was cut at " + max + " tokens; " + (t.untruncatedLength() - max)
                    + " tokens at the end are ignored by the model");
        }
        return Main.OK;
    }
}
