package org.cyclediffusion.cli;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cyclediffusion.core.pipeline.InvalidRequestException;

/**
 * The library names a request's fields ({@code numInferenceSteps = 0: expected at least 1}); a
 * person at the command line typed flags. This is the one place that says which flag sets which
 * field, so every refused request reads {@code --steps 0: expected at least 1}.
 */
final class FlagNames {
    private static final Map<String, String> FLAGS = Map.ofEntries(
            Map.entry("prompt", "--prompt"),
            Map.entry("sourcePrompt", "--source-prompt"),
            Map.entry("image", "--image"),
            Map.entry("strength", "--strength"),
            Map.entry("numInferenceSteps", "--steps"),
            Map.entry("guidanceScale", "--guidance-scale"),
            Map.entry("sourceGuidanceScale", "--source-guidance-scale"),
            Map.entry("numImagesPerPrompt", "--num-images"),
            Map.entry("eta", "--eta"),
            Map.entry("clipSkip", "--clip-skip"),
            Map.entry("seed", "--seed"));

    private FlagNames() {
    }

    /** The flag that sets a request field, or the field itself when no flag does. */
    static String flag(String field) {
        return FLAGS.getOrDefault(field, field);
    }

    /**
     * The message with each named field replaced by its flag: {@code field = value} becomes
     * {@code --flag value} and {@code field:} becomes {@code --flag:}. Only the fields the
     * exception declares are replaced, so ordinary words ("prompt") in the text stay as they are.
     */
    static String inFlags(InvalidRequestException e) {
        String m = e.getMessage();
        for (String field : e.parameters()) {
            String flag = flag(field);
            m = Pattern.compile("\\b" + Pattern.quote(field) + " = ").matcher(m).replaceAll(Matcher.quoteReplacement(flag + " "));
            m = Pattern.compile("\\b" + Pattern.quote(field) + ":").matcher(m).replaceAll(Matcher.quoteReplacement(flag + ":"));
        }
        return m;
    }
}
