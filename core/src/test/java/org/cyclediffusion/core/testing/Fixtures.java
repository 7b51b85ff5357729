package org.cyclediffusion.core.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Locates the test fixtures (tiny models, input images, diffusers goldens) copied into
 * {@code core/src/test/resources/fixtures}. Maven passes the path as the system property
 * {@code cyclediffusion.fixtures}; an IDE run falls back to searching upwards from the working
 * directory.
 */
public final class Fixtures {
    private Fixtures() {
    }

    public static Path root() {
        String p = System.getProperty("cyclediffusion.fixtures");
        if (p != null && Files.isDirectory(Paths.get(p))) {
            return Paths.get(p);
        }
        Path dir = Paths.get("").toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve("core/src/test/resources/fixtures");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("test fixtures not found: set -Dcyclediffusion.fixtures or run from the repository");
    }

    public static Path golden(String name) {
        return root().resolve("golden").resolve(name);
    }

    public static Path model(String name) {
        return root().resolve(name);
    }

    public static Path image(String name) {
        return root().resolve("images").resolve(name);
    }
}
