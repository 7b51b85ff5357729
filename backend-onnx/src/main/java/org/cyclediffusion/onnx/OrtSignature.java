package org.cyclediffusion.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.TensorInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.cyclediffusion.core.config.ConfigException;

/**
 * The inputs and outputs a network must declare, checked against the session's own signature when
 * it opens (not at the first run, where ONNX Runtime's message would not say which file is wrong).
 *
 * <p>Every declared input must be one we feed (an extra input cannot be given a value); every
 * required output must be declared; extra outputs are allowed (we request only what we read).
 */
record OrtSignature(String variant, List<OrtPort> inputs, List<OrtPort> outputs) {

    /** What is wrong with the declared signature, or an empty list when it matches this one. */
    List<String> problems(Map<String, NodeInfo> declaredInputs, Map<String, NodeInfo> declaredOutputs) {
        List<String> problems = new ArrayList<>();
        for (OrtPort p : inputs) {
            check("input", p, declaredInputs.get(p.name()), problems);
        }
        for (String name : declaredInputs.keySet()) {
            if (inputs.stream().noneMatch(p -> p.name().equals(name))) {
                problems.add("unexpected input '" + name + "'");
            }
        }
        for (OrtPort p : outputs) {
            check("output", p, declaredOutputs.get(p.name()), problems);
        }
        return problems;
    }

    private static void check(String kind, OrtPort port, NodeInfo declared, List<String> problems) {
        if (declared == null) {
            if (!port.optional()) {
                problems.add("missing " + kind + " '" + port.name() + "'");
            }
            return;
        }
        if (!(declared.getInfo() instanceof TensorInfo t)) {
            problems.add(kind + " '" + port.name() + "' is not a tensor (" + declared.getInfo() + ")");
            return;
        }
        if (!port.types().contains(t.type)) {
            problems.add(kind + " '" + port.name() + "' has element type " + OrtElementType.name(t.type));
        }
        if (!port.ranks().contains(t.getShape().length)) {
            problems.add(kind + " '" + port.name() + "' has rank " + t.getShape().length);
        }
    }

    /**
     * Returns the first of the accepted signatures that the session declares, or fails naming the
     * file, every accepted signature and what was found.
     */
    static OrtSignature require(Path file, String role, Map<String, NodeInfo> declaredInputs, Map<String, NodeInfo> declaredOutputs,
            List<OrtSignature> accepted) {
        List<String> report = new ArrayList<>();
        for (OrtSignature s : accepted) {
            List<String> problems = s.problems(declaredInputs, declaredOutputs);
            if (problems.isEmpty()) {
                return s;
            }
            report.add((accepted.size() > 1 ? s.variant() + ": " : "") + String.join(", ", problems));
        }
        String expected = accepted.stream().map(OrtSignature::describe).collect(Collectors.joining(" or "));
        throw new ConfigException(file + ": not a " + role + " network this backend can run. Expected " + expected
                + "; found inputs " + describe(declaredInputs) + ", outputs " + describe(declaredOutputs)
                + " (" + String.join("; ", report) + ")");
    }

    String describe() {
        return (variant.isEmpty() ? "" : variant + " ") + "inputs " + inputs + ", outputs " + outputs;
    }

    static String describe(Map<String, NodeInfo> declared) {
        return declared.values().stream().map(OrtSignature::describe).collect(Collectors.joining(", ", "[", "]"));
    }

    static String describe(NodeInfo n) {
        if (!(n.getInfo() instanceof TensorInfo t)) {
            return n.getName() + ": " + n.getInfo();
        }
        long[] shape = t.getShape();
        String[] names = t.getDimensionNames();
        List<String> dims = new ArrayList<>();
        for (int i = 0; i < shape.length; i++) {
            dims.add(shape[i] >= 0 ? Long.toString(shape[i]) : names != null && i < names.length && !names[i].isEmpty() ? names[i] : "?");
        }
        return n.getName() + ": " + OrtElementType.name(t.type) + " " + dims;
    }
}
