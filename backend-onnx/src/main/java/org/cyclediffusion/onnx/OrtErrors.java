package org.cyclediffusion.onnx;

import ai.onnxruntime.OrtException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cyclediffusion.core.CycleDiffusionException;
import org.cyclediffusion.core.config.ConfigException;

/**
 * ONNX Runtime's errors as our one-line messages: what failed (file and network), why in words a
 * user can act on, and ONNX Runtime's own text (stripped of ANSI colours and line breaks) kept as
 * the detail.
 */
final class OrtErrors {
    private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;]*[A-Za-z]");
    /** The Java binding's prefix, "Error code - ORT_FAIL - message: ": the code is no help to a user. */
    private static final Pattern CODE_PREFIX = Pattern.compile("^Error code - \\w+ - message: ");
    private static final Pattern ALLOCATION = Pattern.compile("(?:Failed to allocate memory for requested buffer of size|bad_alloc"
            + "|Failed to allocate)\\D*(\\d+)?");

    private OrtErrors() {
    }

    /** ONNX Runtime's message on one line, without terminal colour codes. */
    static String oneLine(String message) {
        if (message == null) {
            return "";
        }
        String plain = ANSI.matcher(message).replaceAll("").replaceAll("\\s+", " ").trim();
        return CODE_PREFIX.matcher(plain).replaceFirst("");
    }

    /** The bytes of a failed allocation ONNX Runtime reports, -1 when the size is not given, null when it is not one. */
    static Long allocationFailure(OrtException e) {
        String m = oneLine(e.getMessage());
        Matcher a = ALLOCATION.matcher(m);
        if (!a.find()) {
            return null;
        }
        return a.group(1) == null ? -1L : Long.parseLong(a.group(1));
    }

    /**
     * A model that does not load: a file that is not a valid ONNX model (truncated, corrupt, or of
     * an operator set this ONNX Runtime does not know) is the user's input, hence a
     * {@link ConfigException} (exit 2 in the CLI); anything else is ONNX Runtime's failure.
     */
    static CycleDiffusionException load(String what, OrtException e) {
        Long bytes = allocationFailure(e);
        if (bytes != null) {
            return outOfMemory(what + ": loading", bytes, e);
        }
        String detail = oneLine(e.getMessage());
        return switch (e.getCode()) {
            case ORT_INVALID_PROTOBUF, ORT_NO_MODEL, ORT_INVALID_GRAPH, ORT_NO_SUCHFILE, ORT_NOT_IMPLEMENTED, ORT_INVALID_ARGUMENT,
                    ORT_MODEL_LOADED -> new ConfigException(what + ": not an ONNX model this ONNX Runtime can load; the file may be"
                            + " truncated or corrupt (export or download it again) [" + detail + "]", e);
            default -> new CycleDiffusionException(what + ": ONNX Runtime cannot load it: " + detail, e);
        };
    }

    /** A failed run of the network {@code what} (e.g. "the UNet network (unet/model.onnx)"). */
    static CycleDiffusionException run(String what, OrtException e) {
        Long bytes = allocationFailure(e);
        if (bytes != null) {
            return outOfMemory(what, bytes, e);
        }
        return new CycleDiffusionException(what + " failed in ONNX Runtime: " + oneLine(e.getMessage()), e);
    }

    private static CycleDiffusionException outOfMemory(String what, long bytes, OrtException e) {
        String size = bytes < 0 ? "" : String.format(Locale.ROOT, " (one buffer of %,d bytes = %.1f GiB)", bytes, bytes / (double) (1L << 30));
        return new CycleDiffusionException(what + " ran out of memory" + size + ": use a smaller image"
                + " or fewer images at once", e);
    }
}
