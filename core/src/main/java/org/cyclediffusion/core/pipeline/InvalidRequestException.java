package org.cyclediffusion.core.pipeline;

import java.util.List;
import org.cyclediffusion.core.InvalidInputException;

/**
 * A request parameter out of range or inconsistent with another. The message names the request's
 * fields ({@code numInferenceSteps = 0: ...}); {@link #parameters()} lists them so that a tool can
 * say the same in its own words (the CLI names its flags, {@code --steps 0: ...}).
 */
public class InvalidRequestException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    private final List<String> parameters;

    public InvalidRequestException(String message) {
        this(List.of(), message);
    }

    /** @param parameter the {@link EditRequest} field the message starts with */
    public InvalidRequestException(String parameter, String message) {
        this(List.of(parameter), message);
    }

    public InvalidRequestException(List<String> parameters, String message) {
        super(message);
        this.parameters = List.copyOf(parameters);
    }

    /** The {@link EditRequest} fields named in the message, in the order they appear. */
    public List<String> parameters() {
        return parameters;
    }
}
