package org.cyclediffusion.server;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * How a server listens and what it accepts.
 *
 * @param host            address to bind; loopback unless the user asks for another
 * @param port            TCP port; 0 picks a free one (tests)
 * @param maxQueue        edits that may wait behind the running one; more get 429
 * @param maxUploadBytes  largest request body
 * @param maxImagePixels  largest image (width × height), checked from its header before decoding
 * @param maxPromptChars  longest prompt
 * @param apiKey          required on every API call when not null; mandatory off loopback
 * @param software        tool name and version written into the PNGs, as {@code edit} writes it
 * @param modelName       the model as the user named it (PNG metadata, {@code /api/model})
 * @param safetyChecker   whether the pipeline runs its safety checker (PNG metadata)
 */
public record ServerOptions(String host, int port, int maxQueue, long maxUploadBytes, long maxImagePixels, int maxPromptChars,
        String apiKey, String software, String modelName, boolean safetyChecker) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 7860;
    public static final int DEFAULT_MAX_QUEUE = 16;
    public static final int DEFAULT_MAX_UPLOAD_MB = 20;
    /** 4096 × 4096: far beyond what a Stable Diffusion UNet takes on one machine, far below a decompression bomb. */
    public static final long DEFAULT_MAX_IMAGE_PIXELS = 4096L * 4096;
    /** Prompts are cut to 77 tokens anyway; 2000 characters is generous and keeps the tokenizer's work bounded. */
    public static final int DEFAULT_MAX_PROMPT_CHARS = 2000;

    public ServerOptions {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--port " + port + ": expected 0 to 65535");
        }
        if (maxQueue < 0) {
            throw new IllegalArgumentException("--max-queue " + maxQueue + ": expected 0 or more");
        }
        if (maxUploadBytes <= 0) {
            throw new IllegalArgumentException("--max-upload-mb: expected a positive size");
        }
        if (apiKey != null && apiKey.isBlank()) {
            throw new IllegalArgumentException("--api-key is empty; give a real key or none");
        }
        if (apiKey == null && !isLoopback(host)) {
            throw new IllegalArgumentException("--host " + host + " is not a loopback address: anyone who can reach it could use the server;"
                    + " set an API key with --api-key or the CYCLEDIFFUSION_API_KEY environment variable");
        }
    }

    /** Loopback defaults, for a model named {@code modelName}. */
    public static ServerOptions defaults(String software, String modelName) {
        return new ServerOptions(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_MAX_QUEUE, DEFAULT_MAX_UPLOAD_MB * 1024L * 1024L,
                DEFAULT_MAX_IMAGE_PIXELS, DEFAULT_MAX_PROMPT_CHARS, null, software, modelName, true);
    }

    public ServerOptions withPort(int p) {
        return new ServerOptions(host, p, maxQueue, maxUploadBytes, maxImagePixels, maxPromptChars, apiKey, software, modelName, safetyChecker);
    }

    public ServerOptions withHost(String h, String key) {
        return new ServerOptions(h, port, maxQueue, maxUploadBytes, maxImagePixels, maxPromptChars, key, software, modelName, safetyChecker);
    }

    public ServerOptions withMaxQueue(int q) {
        return new ServerOptions(host, port, q, maxUploadBytes, maxImagePixels, maxPromptChars, apiKey, software, modelName, safetyChecker);
    }

    public ServerOptions withMaxUploadBytes(long b) {
        return new ServerOptions(host, port, maxQueue, b, maxImagePixels, maxPromptChars, apiKey, software, modelName, safetyChecker);
    }

    public ServerOptions withMaxImagePixels(long p) {
        return new ServerOptions(host, port, maxQueue, maxUploadBytes, p, maxPromptChars, apiKey, software, modelName, safetyChecker);
    }

    public ServerOptions withSafetyChecker(boolean on) {
        return new ServerOptions(host, port, maxQueue, maxUploadBytes, maxImagePixels, maxPromptChars, apiKey, software, modelName, on);
    }

    /** True for 127.0.0.0/8, ::1 and names that resolve only to them (localhost). */
    public static boolean isLoopback(String host) {
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            for (InetAddress a : all) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return all.length > 0;
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("--host " + host + ": unknown host");
        }
    }
}
