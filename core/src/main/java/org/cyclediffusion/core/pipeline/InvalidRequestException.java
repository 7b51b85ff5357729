package org.cyclediffusion.core.pipeline;

import org.cyclediffusion.core.CycleDiffusionException;

/** A request parameter out of range or inconsistent with another; the message names the parameter. */
public class InvalidRequestException extends CycleDiffusionException {
    private static final long serialVersionUID = 1L;

    public InvalidRequestException(String message) {
        super(message);
    }
}
