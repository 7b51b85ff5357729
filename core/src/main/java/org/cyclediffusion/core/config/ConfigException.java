package org.cyclediffusion.core.config;

import org.cyclediffusion.core.InvalidInputException;

/** A model file or config that is missing, malformed or asks for something we do not implement. */
public class ConfigException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
