package org.cyclediffusion.core.spi;

import java.nio.file.Path;
import java.util.List;

/**
 * Writes a complete diffusers model folder of a full-size architecture (SD 1.5, SD 2.1) with seeded
 * random weights, so full-size benchmarks and memory tests need no download. The names and shapes
 * of the weights come from the backend that knows the networks' state dicts; the folder it writes is
 * an ordinary diffusers folder (configs, safetensors, tokenizer, scheduler).
 */
public interface RandomModelWriter {
    /** Architecture names users type, e.g. {@code sd15}, {@code sd21}. */
    List<String> architectures();

    /**
     * Writes the folder (which must not exist yet, or be empty); the same seed gives the same bytes.
     *
     * @param safetyChecker include {@code safety_checker/} where the architecture has one (SD 1.5)
     * @throws IllegalArgumentException for an unknown architecture, naming the known ones
     */
    void write(String architecture, Path folder, long seed, boolean safetyChecker);
}
