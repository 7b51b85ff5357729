package org.cyclediffusion.core.hub;

import org.cyclediffusion.core.InvalidInputException;

/**
 * A model could not be had from the hub or its cache: not found, private, gated, not cached while
 * offline, or the connection failed. The message is one line naming the repository, the revision
 * and what to do.
 */
public final class HubException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    public HubException(String message) {
        super(message);
    }

    public HubException(String message, Throwable cause) {
        super(message, cause);
    }
}
