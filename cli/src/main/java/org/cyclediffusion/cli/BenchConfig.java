package org.cyclediffusion.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One configuration of {@code bench}: {@code BACKEND[=DIR][,dtype=T][,device=D][,label=NAME][,-Dkey=value]...}.
 * The directory defaults to {@code --model} / {@code --random-model}, dtype and device to the
 * command's; {@code -D} entries are system properties of this configuration's JVM (e.g. a backend
 * switch to compare before and after a change in one run).
 */
record BenchConfig(String backend, Path model, String dtype, String device, String label, List<String> systemProperties) {

    static BenchConfig parse(String spec, Path defaultModel, String defaultDType, String defaultDevice) {
        String[] parts = spec.split(",");
        String head = parts[0].trim();
        int eq = head.indexOf('=');
        String backend = eq < 0 ? head : head.substring(0, eq);
        Path model = eq < 0 ? defaultModel : Path.of(head.substring(eq + 1));
        if (backend.isEmpty()) {
            throw usage(spec, "no backend name before '='");
        }
        if (model == null) {
            throw usage(spec, "no model folder: write " + backend + "=DIR, or give --model DIR or --random-model sd15");
        }
        String dtype = defaultDType;
        String device = defaultDevice;
        String label = null;
        List<String> props = new ArrayList<>();
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i].trim();
            if (p.startsWith("-D") && p.length() > 2) {
                props.add(p);
                continue;
            }
            int e = p.indexOf('=');
            String key = e < 0 ? p : p.substring(0, e);
            String value = e < 0 ? "" : p.substring(e + 1);
            if (value.isEmpty()) {
                throw usage(spec, "'" + p + "' is not KEY=VALUE");
            }
            switch (key) {
                case "dtype" -> dtype = value;
                case "device" -> device = value;
                case "label" -> label = value;
                default -> throw usage(spec, "unknown key '" + key + "' (expected dtype, device, label or -Dproperty=value)");
            }
        }
        return new BenchConfig(backend, model, dtype, device, label, List.copyOf(props));
    }

    BenchConfig withModel(Path other) {
        return new BenchConfig(backend, other, dtype, device, label, systemProperties);
    }

    private static Errors.UsageException usage(String spec, String what) {
        return new Errors.UsageException("--config '" + spec + "': " + what
                + "; expected BACKEND[=DIR][,dtype=T][,device=D][,label=NAME][,-Dkey=value]");
    }

    /** The name printed in the tables: the label, else the backend with any dtype and properties. */
    String name() {
        if (label != null) {
            return label;
        }
        StringBuilder b = new StringBuilder(backend);
        if (dtype != null) {
            b.append(' ').append(dtype);
        }
        for (String p : systemProperties) {
            b.append(' ').append(p);
        }
        return b.toString();
    }

    /** This configuration as one {@code --config} value again (for the child JVM). */
    String spec() {
        StringBuilder b = new StringBuilder(backend).append('=').append(model);
        if (dtype != null) {
            b.append(",dtype=").append(dtype);
        }
        if (device != null) {
            b.append(",device=").append(device);
        }
        if (label != null) {
            b.append(",label=").append(label);
        }
        return b.toString();
    }
}
