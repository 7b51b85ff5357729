package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.config.JsonConfig;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.SchedulerFactory;
import org.cyclediffusion.core.spi.SchedulerProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code cyclediffusion schedulers}: the samplers on the class path, by {@code _class_name}, and whether they can run the DPM-Encoder. */
@Command(name = "schedulers", mixinStandardHelpOptions = true,
        description = "List the installed samplers (values for --scheduler) and whether each can encode (CycleDiffusion).")
final class SchedulersCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        for (Map.Entry<String, SchedulerProvider> e : Registry.discover().schedulers().entrySet()) {
            out.println(e.getKey() + "  " + capability(e.getValue()) + "  (" + e.getValue().getClass().getName() + ")");
        }
        return Main.OK;
    }

    /** Whether the sampler, with its default config, offers the DPM-Encoder. */
    private static String capability(SchedulerProvider p) {
        try {
            SchedulerFactory f = p.load(JsonConfig.parse("{}", p.className() + " defaults").quietCopy());
            return f.dpmEncoding().isPresent() ? "DPM-Encoder: yes" : "DPM-Encoder: no (cannot be used for CycleDiffusion)";
        } catch (RuntimeException ex) {
            return "DPM-Encoder: unknown (" + Errors.oneLine(ex) + ")";
        }
    }
}
