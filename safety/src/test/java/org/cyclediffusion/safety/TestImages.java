package org.cyclediffusion.safety;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.cyclediffusion.core.image.RgbImage;

/** Reads the fixtures' 8-bit RGB PNGs as the raw samples PIL's {@code np.asarray(Image.open(p).convert("RGB"))} gives. */
final class TestImages {
    private TestImages() {
    }

    static RgbImage readPng(Path path) {
        try {
            BufferedImage img = ImageIO.read(path.toFile());
            if (img == null) {
                throw new IllegalStateException(path + ": not an image");
            }
            Raster r = img.getRaster();
            if (r.getNumBands() != 3 || r.getSampleModel().getSampleSize(0) != 8) {
                throw new IllegalStateException(path + ": expected an 8-bit RGB PNG, found " + r.getNumBands() + " bands");
            }
            int w = img.getWidth();
            int h = img.getHeight();
            byte[] rgb = new byte[w * h * 3];
            int[] px = new int[3];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    r.getPixel(x, y, px);
                    for (int c = 0; c < 3; c++) {
                        rgb[(y * w + x) * 3 + c] = (byte) px[c];
                    }
                }
            }
            return new RgbImage(w, h, rgb);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
