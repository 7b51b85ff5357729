package org.cyclediffusion.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * What to tell a person whose {@code --model} is not a folder. The one place that knows about hub
 * ids (ORG/NAME), so that real hub-id support can replace it wholesale.
 */
final class ModelHint {
    private static final Pattern HUB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*");

    private ModelHint() {
    }

    /** A usage error for a {@code --model} that does not exist, with a hint when it looks like a hub id; null when it exists. */
    static Errors.UsageException missing(Path model) {
        if (Files.exists(model)) {
            return null;
        }
        String s = model.toString();
        if (HUB_ID.matcher(s).matches()) {
            String local = s.substring(s.indexOf('/') + 1);
            return new Errors.UsageException("--model " + s + ": no such folder; it looks like a Hugging Face hub id, which is not"
                    + " downloaded here: download it first (huggingface-cli download " + s + " --local-dir " + local + ") and pass --model "
                    + local);
        }
        return new Errors.UsageException("--model " + s + ": model folder not found (expected a directory with model_index.json)");
    }
}
