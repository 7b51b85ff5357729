package org.cyclediffusion.cli;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import org.cyclediffusion.core.CycleDiffusionException;

/**
 * Files of one result written under hidden names beside their targets, then renamed onto them
 * together ({@link #publish}, inside {@link Interrupts#commit} so that an interrupt either comes
 * before every rename or after them all). Closing removes what was not published: after a failure
 * or an interrupt the targets' folder is as it was.
 */
final class StagedFiles implements AutoCloseable {
    private final List<Path> stages = new ArrayList<>();
    private final List<Path> targets = new ArrayList<>();

    /** The hidden file to write for {@code target}: {@code .NAME.cyclediffusion-PID.part} in the same folder. */
    Path stage(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        Path stage = abs.resolveSibling("." + abs.getFileName() + ".cyclediffusion-" + ProcessHandle.current().pid() + ".part");
        stages.add(stage);
        targets.add(abs);
        return stage;
    }

    /** Renames every staged file onto its target (each rename atomic). */
    void publish() {
        for (int i = 0; i < stages.size(); i++) {
            try {
                Files.move(stages.get(i), targets.get(i), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new CycleDiffusionException("cannot write " + targets.get(i) + ": the file system does not support an atomic rename", e);
            } catch (IOException e) {
                throw new CycleDiffusionException("cannot write " + targets.get(i) + ": " + e, e);
            }
        }
        stages.clear();
        targets.clear();
    }

    /** Removes the staged files that were not published. */
    @Override
    public void close() {
        for (Path p : stages) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort: a hidden .part file is all that can remain
            }
        }
        stages.clear();
        targets.clear();
    }
}
