package org.cyclediffusion.core;

/**
 * The one unchecked exception family of the project. Native errors are wrapped with their cause
 * kept; messages say what, where, what was expected and what was found.
 */
public class CycleDiffusionException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CycleDiffusionException(String message) {
        super(message);
    }

    public CycleDiffusionException(String message, Throwable cause) {
        super(message, cause);
    }
}
