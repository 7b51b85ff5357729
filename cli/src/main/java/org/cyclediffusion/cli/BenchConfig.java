package org.cyclediffusion.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One configuration of {@code bench}:
 * {@code BACKEND[=DIR][,dtype=T][,device=D][,source-guided=B][,label=NAME][,-Dkey=value]...[,env.NAME=value]...}.
 * The directory defaults to {@code --model} / {@code --random-model}, dtype and device to the
 * command's; {@code source-guided} is the edit's (true: diffusers' four UNet rows per image even at
 * source guidance 1); {@code -D} entries are system properties of this configuration's JVM (e.g. a backend
 * switch to compare before and after a change in one run); {@code env.} entries set a variable of
 * its environment, or remove it when the value is empty (settings the native libraries read once,
 * when they load: glibc's {@code GLIBC_TUNABLES}, {@code ONEDNN_MAX_CPU_ISA}, {@code OMP_WAIT_POLICY}).
 */
record BenchConfig(String backend, Path model, String dtype, String device, Boolean sourceGuided, String label, List<String> systemProperties,
        Map<String, String> environment) {
    private static final String ENV = "env.";


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
        Boolean sourceGuided = null;
        List<String> props = new ArrayList<>();
        Map<String, String> environment = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i].trim();
            if (p.startsWith("-D") && p.length() > 2) {
                props.add(p);
                continue;
            }
            int e = p.indexOf('=');
            String key = e < 0 ? p : p.substring(0, e);
            String value = e < 0 ? "" : p.substring(e + 1);
            if (key.startsWith(ENV)) {
                String name = key.substring(ENV.length());
                if (e < 0 || !name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                    throw usage(spec, "'" + p + "' is not env.NAME=value (NAME letters, digits and _; an empty value removes it)");
                }
                environment.put(name, value);
                continue;
            }
            if (value.isEmpty()) {
                throw usage(spec, "'" + p + "' is not KEY=VALUE");
            }
            switch (key) {
                case "dtype" -> dtype = value;
                case "device" -> device = value;
                case "label" -> label = value;
                case "source-guided" -> {
                    if (!value.equals("true") && !value.equals("false")) {
                        throw usage(spec, "source-guided=" + value + ": expected true or false");
                    }
                    sourceGuided = Boolean.valueOf(value);
                }
                default -> throw usage(spec, "unknown key '" + key + "' (expected dtype, device, source-guided, label, -Dproperty=value or env.NAME=value)");
            }
        }
        return new BenchConfig(backend, model, dtype, device, sourceGuided, label, List.copyOf(props),
                java.util.Collections.unmodifiableMap(environment));
    }

    BenchConfig withModel(Path other) {
        return new BenchConfig(backend, other, dtype, device, sourceGuided, label, systemProperties, environment);
    }

    /** Applies the {@code env.} entries to a child process's environment. */
    void applyEnvironment(Map<String, String> env) {
        environment.forEach((name, value) -> {
            if (value.isEmpty()) {
                env.remove(name);
            } else {
                env.put(name, value);
            }
        });
    }

    private static Errors.UsageException usage(String spec, String what) {
        return new Errors.UsageException("--config '" + spec + "': " + what
                + "; expected BACKEND[=DIR][,dtype=T][,device=D][,source-guided=B][,label=NAME][,-Dkey=value][,env.NAME=value]");
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
        if (sourceGuided != null) {
            b.append(" source-guided=").append(sourceGuided);
        }
        for (String p : systemProperties) {
            b.append(' ').append(p);
        }
        environment.forEach((name, value) -> b.append(' ').append(name).append('=').append(value));
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
        if (sourceGuided != null) {
            b.append(",source-guided=").append(sourceGuided);
        }
        if (label != null) {
            b.append(",label=").append(label);
        }
        return b.toString();
    }
}
