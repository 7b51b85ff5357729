package org.cyclediffusion.libtorch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The process settings the launcher script gives every JVM it starts, read from the script itself
 * so that a test of the policy cannot drift from what users run.
 */
final class LauncherPolicy {
    private static final Path LAUNCHER = Paths.get("..", "cyclediffusion");

    private LauncherPolicy() {
    }

    /** The {@code GLIBC_TUNABLES} the launcher exports when the user set none: {@code ${GLIBC_TUNABLES-...}}. */
    static String glibcTunables() throws IOException {
        Matcher m = Pattern.compile("export GLIBC_TUNABLES=\"\\$\\{GLIBC_TUNABLES-([^}]*)}\"").matcher(Files.readString(LAUNCHER));
        assertTrue(m.find(), "the launcher " + LAUNCHER.toAbsolutePath() + " sets GLIBC_TUNABLES");
        return m.group(1);
    }

    /** Starts {@code pb}'s process with {@code tunables} as its {@code GLIBC_TUNABLES}, or with none (glibc's default) for null. */
    static ProcessBuilder withGlibcTunables(ProcessBuilder pb, String tunables) {
        pb.environment().remove("GLIBC_TUNABLES");
        if (tunables != null) {
            pb.environment().put("GLIBC_TUNABLES", tunables);
        }
        return pb;
    }

    /**
     * Whether the kernel gives transparent huge pages to memory that asks for them ({@code madvise})
     * or to all ({@code always}); {@code never}, or no THP support, and glibc's {@code hugetlb=1} does nothing.
     */
    static boolean transparentHugePagesOnRequest() {
        try {
            String mode = Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
            return mode.contains("[always]") || mode.contains("[madvise]");
        } catch (IOException e) {
            return false;
        }
    }
}
