package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.InvalidInputException;

/** A request parameter out of range or inconsistent with another; the message names the parameter. */
public class InvalidRequestException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    public InvalidRequestException(String message) {
        super(message);
    }
}
