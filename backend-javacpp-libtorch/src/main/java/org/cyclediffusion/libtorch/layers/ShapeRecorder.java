package org.cyclediffusion.libtorch.layers;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.cyclediffusion.core.config.ConfigException;

/** Lists every parameter name and shape in construction order (diffusers' state-dict order). */
public final class ShapeRecorder extends ParameterSource {
    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    public ShapeRecorder(String configSource) {
        super(configSource);
    }

    @Override
    public Tensor take(String name, long... shape) {
        if (shapes.put(name, shape.clone()) != null) {
            // two layers claiming one name is a bug in the assembly code, not in the user's files
            throw new IllegalStateException("parameter " + name + " declared twice");
        }
        for (long d : shape) {
            if (d <= 0) {
                throw new ConfigException(configSource() + ": parameter " + name + " would have shape " + Arrays.toString(shape)
                        + "; the config gives a layer no channels");
            }
        }
        return null;
    }

    public Map<String, long[]> shapes() {
        return Collections.unmodifiableMap(shapes);
    }
}
