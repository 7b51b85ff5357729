package org.cyclediffusion.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * Wall times of finished items and the time left, estimated from their median: one slow first
 * item (warm-up, a cold file cache) or one huge item does not throw the estimate off as a mean
 * would.
 */
final class ItemTimes {
    private final List<Double> millis = new ArrayList<>();

    void add(double itemMillis) {
        millis.add(itemMillis);
    }

    Optional<Double> median() {
        if (millis.isEmpty()) {
            return Optional.empty();
        }
        List<Double> sorted = new ArrayList<>(millis);
        Collections.sort(sorted);
        int n = sorted.size();
        return Optional.of(n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2);
    }

    /**
     * @param remaining            items not finished, including the current one
     * @param currentElapsedMillis how long the current item has run
     */
    Optional<Duration> eta(int remaining, double currentElapsedMillis) {
        return median().map(m -> {
            double left = remaining * m - Math.min(currentElapsedMillis, m);
            return Duration.ofMillis(Math.round(Math.max(0, left)));
        });
    }

    static String format(Duration d) {
        long s = d.toSeconds();
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format("%d:%02d", s / 60, s % 60);
    }
}
