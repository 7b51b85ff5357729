package org.cyclediffusion.cli;

import picocli.CommandLine;

/** The tool's version, from the jar manifest when packaged. */
final class Versions implements CommandLine.IVersionProvider {
    static String version() {
        String v = Versions.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public String[] getVersion() {
        return new String[] {"cyclediffusion " + version(), "Java " + System.getProperty("java.version")};
    }
}
