package org.cyclediffusion.server;

/**
 * A request the server refuses, answered as {@code {"error": message, "field": field}} with an
 * HTTP status; the message is meant for the person who sent it.
 */
public final class ApiException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String field;

    public ApiException(int status, String field, String message) {
        super(message);
        this.status = status;
        this.field = field;
    }

    public int status() {
        return status;
    }

    /** The form field at fault, or null. */
    public String field() {
        return field;
    }
}
