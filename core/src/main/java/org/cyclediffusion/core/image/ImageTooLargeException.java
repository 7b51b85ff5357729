package org.cyclediffusion.core.image;

import org.cyclediffusion.core.InvalidInputException;

/** An image whose header declares more pixels than the reader accepts; nothing was decoded. */
public class ImageTooLargeException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    public ImageTooLargeException(String message) {
        super(message);
    }
}
