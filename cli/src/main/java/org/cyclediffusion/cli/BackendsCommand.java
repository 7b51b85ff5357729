package org.cyclediffusion.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.cyclediffusion.core.plugin.Registry;
import org.cyclediffusion.core.spi.BackendProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code cyclediffusion backends}: what discovery found on the class path. */
@Command(name = "backends", mixinStandardHelpOptions = true, description = "List the backends, schedulers and safety checker found.")
final class BackendsCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Registry r = Registry.discover();
        for (BackendProvider b : r.backends().values()) {
            out.println("backend " + b.name() + "  devices: " + String.join(", ", b.devices()));
        }
        for (String s : r.schedulers().keySet()) {
            out.println("scheduler " + s);
        }
        out.println("safety checker: " + (r.safetyChecker().isPresent() ? "available" : "not on the class path"));
        return Main.OK;
    }
}
