package org.cyclediffusion.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.cyclediffusion.core.pipeline.PipelineLoader;
import org.cyclediffusion.core.pipeline.WeightResidency;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One-shot commands release each network's weights after use unless the property says keep; other values are refused. */
class OneShotResidencyTest {
    private static final PipelineLoader.Options OPTIONS = PipelineLoader.Options.of(Path.of("model"));

    @AfterEach
    void clear() {
        System.clearProperty(ModelOptions.WEIGHT_RESIDENCY_PROPERTY);
    }

    @Test
    void releaseByDefaultKeepOnRequest() {
        assertEquals(WeightResidency.KEEP, OPTIONS.weightResidency(), "the library keeps");
        assertEquals(WeightResidency.RELEASE_AFTER_USE, ModelOptions.oneShot(OPTIONS).weightResidency());
        System.setProperty(ModelOptions.WEIGHT_RESIDENCY_PROPERTY, "keep");
        assertEquals(WeightResidency.KEEP, ModelOptions.oneShot(OPTIONS).weightResidency());
        System.setProperty(ModelOptions.WEIGHT_RESIDENCY_PROPERTY, "release-after-use");
        assertEquals(WeightResidency.RELEASE_AFTER_USE, ModelOptions.oneShot(OPTIONS).weightResidency());
    }

    @Test
    void anotherValueIsAUsageError() {
        System.setProperty(ModelOptions.WEIGHT_RESIDENCY_PROPERTY, "never");
        Errors.UsageException e = assertThrows(Errors.UsageException.class, () -> ModelOptions.oneShot(OPTIONS));
        assertTrue(e.getMessage().contains("cyclediffusion.weightResidency=never") && e.getMessage().contains("expected keep or release_after_use"),
                e.getMessage());
    }
}
