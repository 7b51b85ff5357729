package org.cyclediffusion.onnx;

import com.google.inject.AbstractModule;
import org.cyclediffusion.core.plugin.CycleDiffusionPlugin;
import org.cyclediffusion.core.plugin.Plugins;

/** Registers the {@code onnx} backend. Binding only: no native library is loaded here. */
public final class OrtPlugin extends AbstractModule implements CycleDiffusionPlugin {
    @Override
    protected void configure() {
        Plugins.backends(binder()).addBinding("onnx").to(OrtBackendProvider.class);
    }
}
