package org.cyclediffusion.core.plugin;

import com.google.inject.Module;

/**
 * A plug-in jar's one Guice module, listed in
 * {@code META-INF/services/org.cyclediffusion.core.plugin.CycleDiffusionPlugin}. Its
 * {@code configure} only binds cheap providers into the maps of {@link Plugins}; it never loads
 * natives or touches files.
 */
public interface CycleDiffusionPlugin extends Module {
}
