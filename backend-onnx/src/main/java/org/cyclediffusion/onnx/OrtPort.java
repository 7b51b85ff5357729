package org.cyclediffusion.onnx;

import ai.onnxruntime.OnnxJavaType;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One input or output a network must declare: its name, the element types and ranks we can feed or
 * read. {@code optional} outputs may be absent (e.g. {@code pooler_output}, which we never read).
 */
record OrtPort(String name, Set<OnnxJavaType> types, Set<Integer> ranks, boolean optional) {

    static OrtPort of(String name, Set<OnnxJavaType> types, int... ranks) {
        return new OrtPort(name, Set.copyOf(types), java.util.Arrays.stream(ranks).boxed().collect(Collectors.toUnmodifiableSet()), false);
    }

    OrtPort asOptional() {
        return new OrtPort(name, types, ranks, true);
    }

    @Override
    public String toString() {
        String t = types.stream().map(OrtElementType::name).sorted().collect(Collectors.joining("|"));
        String r = ranks.stream().sorted().map(String::valueOf).collect(Collectors.joining("|"));
        return name + ": " + t + " rank " + r + (optional ? " (optional)" : "");
    }
}
