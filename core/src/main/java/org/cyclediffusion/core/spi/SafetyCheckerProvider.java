package org.cyclediffusion.core.spi;

import java.util.Optional;
import org.cyclediffusion.core.config.ModelFolder;

/**
 * Builds the safety checker of a model folder from the networks a backend loaded. Provided by the
 * {@code safety} module; the policy (on when the folder declares a checker, fail when its files
 * are missing, off only on request) belongs to the implementation.
 *
 * @return empty when the folder declares no checker
 */
public interface SafetyCheckerProvider {
    Optional<SafetyChecker> create(ModelFolder folder, Models models);
}
