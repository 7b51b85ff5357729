package org.cyclediffusion.core.hub;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A Hugging Face model repository, {@code ORG/NAME}, with the revision asked for (a branch, tag or
 * commit hash; {@code main} by default), written {@code ORG/NAME@REVISION} on the command line.
 */
public record HubId(String repo, String revision) {
    public static final String DEFAULT_REVISION = "main";
    /** The hub's repository name rules: letters, digits, '-', '_', '.', one slash between owner and name. */
    private static final Pattern REPO = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    /**
     * {@code ORG/NAME} or {@code ORG/NAME@REV}; empty when {@code text} is not of that form.
     *
     * @param revision the {@code --revision} flag, or null; it may not contradict an {@code @REV}
     */
    public static Optional<HubId> parse(String text, String revision) {
        String repo = text;
        String rev = null;
        int at = text.indexOf('@');
        if (at >= 0) {
            repo = text.substring(0, at);
            rev = text.substring(at + 1);
            if (rev.isEmpty()) {
                return Optional.empty();
            }
        }
        if (!REPO.matcher(repo).matches() || repo.contains("..") || repo.endsWith(".") || repo.contains("--")) {
            return Optional.empty();
        }
        if (rev != null && revision != null && !rev.equals(revision)) {
            throw new IllegalArgumentException("--model " + text + " names revision " + rev + " but --revision says " + revision
                    + ": give one");
        }
        return Optional.of(new HubId(repo, rev != null ? rev : revision != null ? revision : DEFAULT_REVISION));
    }

    public static boolean isCommitHash(String revision) {
        return COMMIT.matcher(revision).matches();
    }

    /** huggingface_hub's folder name: {@code models--ORG--NAME}. */
    public String cacheFolderName() {
        return "models--" + repo.replace("/", "--");
    }

    @Override
    public String toString() {
        return repo + "@" + revision;
    }
}
