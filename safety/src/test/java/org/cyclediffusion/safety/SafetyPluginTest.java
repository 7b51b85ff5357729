package org.cyclediffusion.safety;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import org.cyclediffusion.core.plugin.Registry;
import org.junit.jupiter.api.Test;

class SafetyPluginTest {
    @Test
    void discoveryBindsTheFactory() {
        Registry registry = Registry.discover();
        assertInstanceOf(SafetyCheckerFactory.class, registry.safetyChecker().orElseThrow());
    }
}
