package org.cyclediffusion.core;

/**
 * Something the user supplied is wrong: a file that is missing or malformed, a parameter out of
 * range, a model folder that does not hold what it declares. Tools report it as a usage error
 * (exit code 2) with the message alone.
 */
public class InvalidInputException extends CycleDiffusionException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
