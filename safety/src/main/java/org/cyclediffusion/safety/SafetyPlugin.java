package org.cyclediffusion.safety;

import com.google.inject.AbstractModule;
import org.cyclediffusion.core.plugin.CycleDiffusionPlugin;
import org.cyclediffusion.core.plugin.Plugins;

/** Contributes Stable Diffusion's safety checker policy; found through {@code META-INF/services}. */
public final class SafetyPlugin extends AbstractModule implements CycleDiffusionPlugin {
    @Override
    protected void configure() {
        Plugins.safetyChecker(binder()).setBinding().to(SafetyCheckerFactory.class);
    }
}
