package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** Download progress on stderr: a redrawn bar with bytes and speed on a terminal, plain lines otherwise. */
class DownloadProgressTest {
    private static String run(boolean terminal) {
        StringWriter w = new StringWriter();
        DownloadProgress p = new DownloadProgress(new PrintWriter(w, true), terminal);
        p.started("unet/diffusion_pytorch_model.safetensors", 0, 3L << 30);
        p.progressed("unet/diffusion_pytorch_model.safetensors", 1L << 30);
        p.resuming("unet/diffusion_pytorch_model.safetensors", 1L << 30, "connection reset");
        p.progressed("unet/diffusion_pytorch_model.safetensors", 3L << 30);
        p.finished("unet/diffusion_pytorch_model.safetensors");
        return w.toString();
    }

    @Test
    void plainLinesWhenNotATerminal() {
        String out = run(false);
        assertFalse(out.contains("\r"), out);
        assertEquals(3, out.lines().count(), out);
        assertTrue(out.contains("downloading unet/diffusion_pytorch_model.safetensors (3.0 GiB)") && out.contains("resuming")
                && out.contains("downloaded unet/diffusion_pytorch_model.safetensors"), out);
    }

    @Test
    void aBarWithBytesAndSpeedOnATerminal() {
        String out = run(true);
        assertTrue(out.contains("\r") && out.contains("1.0 GiB / 3.0 GiB") && out.contains("/s") && out.contains("[##########"), out);
    }

    @Test
    void sizes() {
        assertEquals("512 B", DownloadProgress.bytes(512));
        assertEquals("3.2 GiB", DownloadProgress.bytes(3_438_167_114L));
    }
}
