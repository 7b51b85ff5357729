package org.cyclediffusion.core.spi;

import java.util.Locale;

/** Where a backend runs its networks: {@code cpu} or {@code cuda[:N]}. */
public record Device(String type, int index) {
    public static final Device CPU = new Device("cpu", 0);

    public Device {
        if (!type.equals("cpu") && !type.equals("cuda")) {
            throw new IllegalArgumentException("device type '" + type + "': expected cpu or cuda[:N]");
        }
        if (index < 0) {
            throw new IllegalArgumentException("device index " + index + ": expected >= 0");
        }
    }

    /** Parses {@code cpu}, {@code cuda}, {@code cuda:1}. */
    public static Device parse(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        int colon = s.indexOf(':');
        String type = colon < 0 ? s : s.substring(0, colon);
        if (colon < 0) {
            return new Device(type, 0);
        }
        try {
            return new Device(type, Integer.parseInt(s.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("device '" + text + "': expected cpu, cuda or cuda:N");
        }
    }

    public boolean isCuda() {
        return type.equals("cuda");
    }

    @Override
    public String toString() {
        return isCuda() ? "cuda:" + index : "cpu";
    }
}
