package org.cyclediffusion.libtorch;

import com.google.inject.AbstractModule;
import org.cyclediffusion.core.plugin.CycleDiffusionPlugin;
import org.cyclediffusion.core.plugin.Plugins;

/**
 * The LibTorch backend's plug-in module, found through {@code META-INF/services}: it binds the
 * provider under {@code libtorch} and the full-size {@link RandomModel} writer, and does nothing else (no native code, no
 * files).
 */
public final class TorchPlugin extends AbstractModule implements CycleDiffusionPlugin {
    @Override
    protected void configure() {
        Plugins.backends(binder()).addBinding(TorchBackendProvider.NAME).to(TorchBackendProvider.class);
        // Pure Java: writes folders with the networks' state-dict shapes, loads no natives.
        Plugins.randomModelWriter(binder()).setBinding().to(RandomModel.class);
    }
}
